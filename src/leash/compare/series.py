"""`leash compare BASE STEP_1 ... STEP_m --series`: support over the checkpoints of one training.

For each run (the base first, then the checkpoints in training order), against the base:

    pass@1, pass@k_max       mean over problems (k_max = the largest n every run has on every problem)
    SRR, NDR, NSCR           support regions base vs this checkpoint at budget k (default k_max)
    cover@tau                share of problems with c/n >= tau (Dragoi et al. 2025), per tau
    answer entropy           mean over problems of -sum p ln p over canonical answers

`series_metrics` is a pure function over loaded runs; `compare_series` loads them (same task set,
or the shared tasks with `intersect`) and names each run's step: the number in a `step-000050`
model path (what `leash lab rl --save-every` writes; a base without one is step 0), else the
run's position. The base against itself (the same samples) has S = E = 0: SRR 1 (0 when it solves
nothing), NDR 0, NSCR 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from leash.compare.load import RunGrades, choose_grader, graded_task_ids, load_run_grades
from leash.compare.markdown import fmt, short_name, write_json_and_markdown
from leash.errors import LeashError
from leash.metrics import Regions, answer_entropy, cover_at_tau, pass_at_k, support_regions
from leash.store import open_run

__all__ = [
    "DEFAULT_TAUS",
    "compare_series",
    "cover_at",
    "render_series_markdown",
    "series_metrics",
    "write_series",
]

DEFAULT_TAUS = (0.1, 0.5, 0.9)
_STEP = re.compile(r"(?:^|[/\\])(?:step|checkpoint|global_step)[-_]?(\d+)[/\\]?$")


def cover_at(n: ArrayLike, c: ArrayLike, taus: ArrayLike) -> NDArray[np.float64]:
    """cover@tau = (1/N) sum_i [c_i / n_i >= tau] per tau (Dragoi et al. 2025, arXiv 2510.08325)."""
    covered: NDArray[np.float64] = cover_at_tau(n, c, taus).mean(axis=0)
    return covered


def series_metrics(
    runs: list[RunGrades], steps: list[int], *, k: int | None = None, taus: tuple[float, ...] = DEFAULT_TAUS
) -> dict[str, Any]:
    """Per step the numbers of the module docstring; `runs` aligned on one task set, base first."""
    base = runs[0]
    k_max = int(min(int(r.n.min()) for r in runs))
    budget = k_max if k is None else k
    rows = []
    for run, step in zip(runs, steps, strict=True):
        at = pass_at_k(run.n, run.c, [1, k_max]).mean(axis=0)
        if run is base:  # the same samples on both sides: nothing can be lost or found
            covered = float(pass_at_k(base.n, base.c, [budget]).sum())
            regions = Regions(covered, 0.0, 0.0, len(base.task_ids) - covered).as_dict()
        else:
            regions = support_regions(base.n, base.c, run.n, run.c, budget).as_dict()
        entropy = (
            float(answer_entropy(run.class_problem, run.class_count, len(run.task_ids)).mean())
            if run.has_answers
            else None
        )
        rows.append(
            {
                "step": step,
                "run": str(run.run.path),
                "model": run.run.meta().get("model"),
                "grader": run.grader,
                "pass_at_1": float(at[0]),
                "pass_at_k_max": float(at[1]),
                "support": regions,
                "cover_at": [float(x) for x in cover_at(run.n, run.c, taus)],
                "answer_entropy": entropy,
            }
        )
    return {
        "leash_series_version": 1,
        "n_problems": len(base.task_ids),
        "k_max": k_max,
        "support_k": budget,
        "taus": list(taus),
        "steps": rows,
    }


def _step_of(run_meta: dict[str, Any]) -> int | None:
    match = _STEP.search(str(run_meta.get("model") or "").rstrip("/\\"))
    return int(match.group(1)) if match else None


def _steps(paths: list[Path], metas: list[dict[str, Any]]) -> list[int]:
    """Steps from `step-NNNNNN` model paths (a base without one: 0), else 0, 1, 2, ..."""
    found = [_step_of(m) for m in metas]
    numbered = [s for s in found[1:] if s is not None]
    if len(numbered) == len(found) - 1:
        steps = [found[0] or 0, *numbered]
        for i in range(1, len(steps)):
            if steps[i] <= steps[i - 1]:
                raise LeashError(
                    f"run {paths[i]} is step {steps[i]}, after {paths[i - 1]} at step {steps[i - 1]}: "
                    "list the runs in training order, each step once"
                )
        return steps
    return list(range(len(paths)))


def _shared_tasks(paths: list[Path], ids: list[list[str]], intersect: bool) -> list[str]:
    shared = set(ids[0]).intersection(*ids[1:])
    if not intersect:
        for path, these in zip(paths[1:], ids[1:], strict=True):
            only_base, only_here = set(ids[0]) - set(these), set(these) - set(ids[0])
            if only_base or only_here:
                raise LeashError(
                    f"run {path} differs in tasks from the base {paths[0]} ({len(only_base)} only in "
                    f"the base, {len(only_here)} only in {path.name}): a series compares one task set; "
                    f"pass --intersect to keep the {len(shared)} tasks every run has"
                )
    if not shared:
        raise LeashError("the runs of the series share no task; nothing to compare")
    return sorted(shared)


def compare_series(
    runs: Sequence[str | Path],
    *,
    k: int | None = None,
    intersect: bool = False,
    grader: str | None = None,
    taus: tuple[float, ...] = DEFAULT_TAUS,
) -> dict[str, Any]:
    """Load BASE and the checkpoints' runs and return the series dictionary (JSON-safe)."""
    paths = [Path(r) for r in runs]
    if len(paths) < 2:
        raise LeashError(
            f"--series needs BASE and at least one checkpoint run (got {len(paths)} run): "
            "leash compare BASE STEP_1 ... STEP_m --series"
        )
    if any(not 0.0 < t <= 1.0 for t in taus):
        raise LeashError(f"--tau {','.join(map(str, taus))}: every tau must be in (0, 1]")
    opened = [open_run(p) for p in paths]
    graders = [choose_grader(run, grader) for run in opened]
    shared = _shared_tasks(
        paths, [graded_task_ids(r, g) for r, g in zip(opened, graders, strict=True)], intersect
    )
    loaded = [load_run_grades(r, g, shared) for r, g in zip(opened, graders, strict=True)]
    k_common = min(int(r.n.min()) for r in loaded)
    if k is not None and not 1 <= k <= k_common:
        raise LeashError(f"--k {k}: must be between 1 and {k_common}, the fewest samples a task has in a run")
    result = series_metrics(loaded, _steps(paths, [r.meta() for r in opened]), k=k, taus=taus)
    result["tasks"] = {"compared": len(shared), "intersect": intersect}
    return result


def render_series_markdown(result: dict[str, Any]) -> str:
    """series.md: one row per step."""
    taus = result["taus"]
    head = ["step", "model", "pass@1", f"pass@{result['k_max']}", "SRR", "NDR", "NSCR"]
    head += [f"cover@{t:g}" for t in taus] + ["answer entropy"]
    lines = [
        f"# Support over training ({result['n_problems']} problems, support at k = {result['support_k']})",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + " |",
    ]
    for row in result["steps"]:
        s = row["support"]
        cells = [row["step"], short_name({"model": row["model"]}, Path(row["run"]).name)]
        cells += [fmt(row["pass_at_1"], 3), fmt(row["pass_at_k_max"], 3)]
        cells += [fmt(s["SRR"], 3), fmt(s["NDR"], 3), fmt(s["NSCR"], 3)]
        cells += [fmt(x, 3) for x in row["cover_at"]] + [fmt(row["answer_entropy"], 3)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_series(result: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write series.json and series.md into out_dir; returns both paths."""
    return write_json_and_markdown(result, render_series_markdown(result), out_dir, "series")
