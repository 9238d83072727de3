"""`leash compare BASE TUNED`: the papers' analysis of two graded runs.

`compare_runs` reads both runs and returns the compare.json dictionary (its keys
are a public contract, see docs/compare.md); `write_comparison` writes
compare.json and compare.md. All numbers come from `leash.metrics`.

Conventions:
- problems are aligned by task_id; runs whose task sets differ are refused unless
  `intersect`, which keeps the shared tasks;
- a mean curve at k is defined only when every problem has at least k samples;
- the support budget k defaults to the largest k every problem has on both sides
  (then regions are exact); a smaller k gives expected region counts;
- se_gap uses k_max = that same largest common k.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from leash.compare.load import RunGrades, choose_grader, graded_task_ids, load_run_grades
from leash.compare.luck import DEFAULT_MAX_ANSWERS, LuckArrays, luck_arrays, luck_block
from leash.compare.markdown import render_markdown, write_json_and_markdown
from leash.compare.reliability import Reliability, reliability_arrays, reliability_block, who_gains
from leash.compare.scores import entropy_table, perplexity_blocks
from leash.errors import LeashError
from leash.metrics import (
    REGIONS,
    answer_entropy,
    avg_at_n,
    benjamini_hochberg,
    crossover_k,
    delta_se,
    epsilon,
    epsilon_exact,
    fisher_exact,
    maj_at_k,
    mean_with_band,
    pass_at_k,
    region_probabilities,
    se_gap,
    support_regions,
)
from leash.store import open_run

__all__ = ["compare_runs", "k_grid", "write_comparison"]

# Problems per block in the every-k sweep (crossover, mean curves): bounds memory.
_SWEEP_CELLS = 8_000_000


@dataclass(frozen=True)
class _PerProblem:
    """Both runs aligned on the compared problems, with the per-problem numbers every
    block (overall, each dataset) averages over its rows; computed once."""

    base: RunGrades
    tuned: RunGrades
    ks: list[int]
    pass_base: NDArray[np.float64]  # [problems x ks]
    pass_tuned: NDArray[np.float64]
    maj_base: NDArray[np.float64] | None  # [problems x ks], None without answers
    maj_tuned: NDArray[np.float64] | None
    entropy_base: NDArray[np.float64] | None  # [problems]
    entropy_tuned: NDArray[np.float64] | None
    reliability_base: Reliability
    reliability_tuned: Reliability
    luck: LuckArrays | None


def _per_problem(b: RunGrades, t: RunGrades, ks: list[int], luck: LuckArrays | None) -> _PerProblem:
    def maj(g: RunGrades) -> NDArray[np.float64] | None:
        if not (b.has_answers and t.has_answers):
            return None
        return maj_at_k(g.vote_problem, g.vote_rank, g.vote_code, g.code_correct, len(g.task_ids), ks)

    def entropy(g: RunGrades) -> NDArray[np.float64] | None:
        return answer_entropy(g.class_problem, g.class_count, len(g.task_ids)) if g.has_answers else None

    return _PerProblem(
        base=b,
        tuned=t,
        ks=ks,
        pass_base=pass_at_k(b.n, b.c, ks),
        pass_tuned=pass_at_k(t.n, t.c, ks),
        maj_base=maj(b),
        maj_tuned=maj(t),
        entropy_base=entropy(b),
        entropy_tuned=entropy(t),
        reliability_base=reliability_arrays(b.n, b.c, ks),
        reliability_tuned=reliability_arrays(t.n, t.c, ks),
        luck=luck,
    )


def k_grid(n_max: int, spec: str = "pow2") -> list[int]:
    """The ks reported in compare.json: powers of two up to n_max (plus n_max), every k, or a list."""
    if spec == "pow2":
        ks = [2**i for i in range(int(math.log2(n_max)) + 1)] if n_max >= 1 else []
        return ks + ([n_max] if n_max not in ks else [])
    if spec == "all":
        return list(range(1, n_max + 1))
    try:
        ks = sorted({int(x) for x in spec.split(",") if x.strip()})
    except ValueError as err:
        raise LeashError(f"--ks {spec!r}: use pow2, all, or comma-separated integers") from err
    if not ks or ks[0] < 1:
        raise LeashError(f"--ks {spec!r}: every k must be >= 1")
    return ks


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and inf to null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _as_k(value: float) -> int | None:
    return int(value) if math.isfinite(value) else None


def _task_sets(base: list[str], tuned: list[str], intersect: bool) -> list[str]:
    only_base = sorted(set(base) - set(tuned))
    only_tuned = sorted(set(tuned) - set(base))
    shared = sorted(set(base) & set(tuned))
    if (only_base or only_tuned) and not intersect:

        def show(ids: list[str]) -> str:
            return ", ".join(ids[:3]) + (" ..." if len(ids) > 3 else "")

        parts = []
        if only_base:
            parts.append(f"{len(only_base)} only in base ({show(only_base)})")
        if only_tuned:
            parts.append(f"{len(only_tuned)} only in tuned ({show(only_tuned)})")
        raise LeashError(
            f"the runs differ in tasks: {'; '.join(parts)}; pass --intersect to compare "
            f"the {len(shared)} shared tasks"
        )
    if not shared:
        raise LeashError("the runs share no task; nothing to compare")
    return shared


def _datasets(base: RunGrades, tuned: RunGrades) -> list[str]:
    names: dict[str, str] = {}
    for grades in (tuned, base):  # base wins where both name a dataset
        tasks = grades.run.read_tasks()
        for task_id, dataset in zip(tasks["task_id"].to_pylist(), tasks["dataset"].to_pylist(), strict=True):
            if dataset:
                names[task_id] = dataset
    return [names.get(t, "default") for t in base.task_ids]


def _sweep(
    base: RunGrades, tuned: RunGrades, groups: NDArray[np.int64], n_groups: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Every k up to the largest common n: per-problem crossover, and per-group curve sums."""
    common = np.minimum(base.n, tuned.n)
    k_top = int(common.max())
    ks = np.arange(1, k_top + 1)
    crossing = np.full(len(common), np.nan)
    sums_b = np.zeros((n_groups, k_top))
    sums_t = np.zeros((n_groups, k_top))
    block = max(1, _SWEEP_CELLS // max(k_top, 1))
    for start in range(0, len(common), block):
        rows = slice(start, start + block)
        b = pass_at_k(base.n[rows], base.c[rows], ks)
        t = pass_at_k(tuned.n[rows], tuned.c[rows], ks)
        crossing[rows] = crossover_k(b, t, ks)
        # Every-k curves are used only where every problem has k samples, so NaN stays NaN.
        np.add.at(sums_b, groups[rows], b)
        np.add.at(sums_t, groups[rows], t)
    return ks.astype(np.float64), crossing, sums_b, sums_t


def _answer_units(
    per: _PerProblem, rows: NDArray[np.int64]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """(n_base, c_base, n_tuned, c_tuned) per (problem, distinct correct answer)."""
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    wanted = set(rows.tolist())
    for side, grades in enumerate((per.base, per.tuned)):
        for p, answer, m, ok in zip(
            grades.class_problem.tolist(),
            grades.class_answer,
            grades.class_count.tolist(),
            grades.class_correct.tolist(),
            strict=True,
        ):
            if ok and answer is not None and p in wanted:
                counts[(p, answer)][side] = m
    units = list(counts.items())
    return (
        [int(per.base.n[p]) for (p, _), _ in units],
        [cb for _, (cb, _) in units],
        [int(per.tuned.n[p]) for (p, _), _ in units],
        [ct for _, (_, ct) in units],
    )


def _support(per: _PerProblem, rows: NDArray[np.int64], k: int, zeta: float) -> dict[str, Any]:
    b, t = per.base, per.tuned
    head = {"k": k, "zeta": zeta, "epsilon": epsilon(k, zeta), "epsilon_exact": epsilon_exact(k, zeta)}
    problem = support_regions(b.n[rows], b.c[rows], t.n[rows], t.c[rows], k)
    block: dict[str, Any] = {"problem": {**head, "units": len(rows), **problem.as_dict()}}
    if b.has_answers or t.has_answers:
        nb, cb, nt, ct = _answer_units(per, rows)
        answer = support_regions(nb, cb, nt, ct, k)
        block["answer"] = {**head, "units": len(nb), **answer.as_dict()}
    else:
        block["answer"] = None
    return block


def _mean(values: NDArray[np.float64] | None, rows: NDArray[np.int64]) -> Any:
    return None if values is None else values[rows].mean(axis=0)


def _block(
    per: _PerProblem,
    rows: NDArray[np.int64],
    k_budget: int,
    zeta: float,
    curves: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """Every per-set number of compare.json for the problems in `rows`."""
    b, t, ks = per.base, per.tuned, per.ks
    every_k, sum_b, sum_t = curves
    k_max = int(np.minimum(b.n[rows], t.n[rows]).min())
    mean_b, lo_b, hi_b = mean_with_band(per.pass_base[rows], n_boot=n_boot, seed=seed)
    mean_t, lo_t, hi_t = mean_with_band(per.pass_tuned[rows], n_boot=n_boot, seed=seed)
    # Crossover of the mean curves, on every k where both means are defined.
    upto = min(k_max, len(every_k))
    mb, mt = sum_b[:upto] / len(rows), sum_t[:upto] / len(rows)
    crossing = crossover_k(mb[None, :], mt[None, :], every_k[:upto])[0]
    at = (
        pass_at_k(np.r_[b.n[rows], t.n[rows]], np.r_[b.c[rows], t.c[rows]], [1, k_max])
        .reshape(2, len(rows), 2)
        .mean(axis=1)
    )  # [[base@1, base@kmax], [tuned@1, tuned@kmax]]
    maj_b, maj_t = _mean(per.maj_base, rows), _mean(per.maj_tuned, rows)
    gains, _ = who_gains(b.n[rows], b.c[rows], t.n[rows], t.c[rows], k_max)
    luck = None
    if per.luck is not None:
        luck = luck_block(per.luck, rows, {"base": b.n, "tuned": t.n}, {"base": b.c, "tuned": t.c}, ks,
                          n_boot, seed)  # fmt: skip
    return {
        "n_problems": len(rows),
        "pass_at_k": {
            "k": ks,
            "base": mean_b,
            "tuned": mean_t,
            "base_band": np.stack([lo_b, hi_b], axis=1),
            "tuned_band": np.stack([lo_t, hi_t], axis=1),
            "crossover_k": _as_k(crossing),
        },
        "avg_at_n": {"base": avg_at_n(b.n[rows], b.c[rows]), "tuned": avg_at_n(t.n[rows], t.c[rows])},
        "se_gap": {
            "k_max": k_max,
            "base": se_gap(at[0, 0], at[0, 1]),
            "tuned": se_gap(at[1, 0], at[1, 1]),
            "delta_se": delta_se(at[0, 1], at[1, 0]),
            "pass_at_1": {"base": at[0, 0], "tuned": at[1, 0]},
            "pass_at_k_max": {"base": at[0, 1], "tuned": at[1, 1]},
        },
        "support": _support(per, rows, k_budget, zeta),
        "answer_entropy": {"base": _mean(per.entropy_base, rows), "tuned": _mean(per.entropy_tuned, rows)},
        "maj_at_k": None if maj_b is None else {"k": ks, "base": maj_b, "tuned": maj_t},
        **reliability_block(per.reliability_base, per.reliability_tuned, rows, ks, n_boot, seed),
        "luck": luck,
        "who_gains": gains,
    }


def _support_by_k(b: RunGrades, t: RunGrades, ks: list[int]) -> dict[str, Any]:
    """Expected problem-grain region counts at each budget k (for a plot of regions against k)."""
    out: dict[str, Any] = {"k": ks, "P": [], "S": [], "E": [], "O": []}
    for k in ks:
        counts = support_regions(b.n, b.c, t.n, t.c, k)
        for region in REGIONS:
            out[region].append(getattr(counts, region))
    return out


def _run_info(grades: RunGrades) -> dict[str, Any]:
    return {
        "path": str(grades.run.path),
        "grader": grades.grader,
        "labels_applied": grades.labels_applied,
        "labels": grades.labels,
        **grades.run.meta(),
    }


def compare_runs(
    base: str | Path,
    tuned: str | Path,
    *,
    k: int | None = None,
    zeta: float = 0.05,
    intersect: bool = False,
    grader: str | None = None,
    ks: str = "pow2",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    labels: bool = True,
    luck_answers: int = DEFAULT_MAX_ANSWERS,
    workers: int = 2,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Compare two graded runs; returns the compare.json dictionary (JSON-safe).

    `labels`: honour the verdict labels in each run's labels.parquet (leash.compare.load).
    luck_answers: the most frequent pooled answers per run and dataset graded against
    every problem for the luck baseline (0: no luck baseline); workers and timeout are
    the verifier's, as in `leash grade`.
    """
    if not 0.0 < zeta < 1.0:
        raise LeashError(f"--zeta {zeta}: must be between 0 and 1")
    if not 0.0 < alpha < 1.0:
        raise LeashError(f"--alpha {alpha}: must be between 0 and 1")
    if luck_answers < 0:
        raise LeashError(f"--luck-answers {luck_answers}: must be >= 0 (0 turns the luck baseline off)")
    if n_boot < 1:
        raise LeashError(f"--bootstrap {n_boot}: must be >= 1 resample (the default, 1000, gives 95% bands)")
    runs = [open_run(base), open_run(tuned)]
    graders = [choose_grader(run, grader) for run in runs]
    shared = _task_sets(graded_task_ids(runs[0], graders[0]), graded_task_ids(runs[1], graders[1]), intersect)
    b, t = (load_run_grades(r, g, shared, labels) for r, g in zip(runs, graders, strict=True))

    common = np.minimum(b.n, t.n)
    k_common = int(common.min())
    if k is not None:
        if k < 1:
            raise LeashError(f"--k {k}: must be >= 1")
        if k > k_common:
            worst = int(np.argmin(common))
            side, run = ("base", b) if b.n[worst] <= t.n[worst] else ("tuned", t)
            raise LeashError(
                f"--k {k} exceeds n: task {shared[worst]!r} has {int(run.n[worst])} samples in the "
                f"{side} run {run.run.path}; use --k <= {k_common}"
            )
    budget = k or k_common
    ks_list = k_grid(int(max(b.n.max(), t.n.max())), ks)

    datasets = _datasets(b, t)
    names = sorted(set(datasets))
    group = np.array([names.index(d) for d in datasets], dtype=np.int64)
    every_k, crossing, sums_b, sums_t = _sweep(b, t, group, len(names))

    luck = None
    if luck_answers > 0:
        luck = luck_arrays(b, t, datasets, max_answers=luck_answers, workers=workers, timeout=timeout)
    per = _per_problem(b, t, ks_list, luck)
    all_rows = np.arange(len(shared))
    overall = _block(per, all_rows, budget, zeta, (every_k, sums_b.sum(0), sums_t.sum(0)), n_boot, seed)
    by_dataset = {}
    for g, name in enumerate(names):
        rows = np.flatnonzero(group == g)
        budget_here = min(budget, int(common[rows].min()))
        by_dataset[name] = _block(per, rows, budget_here, zeta, (every_k, sums_b[g], sums_t[g]), n_boot, seed)

    p_values = fisher_exact(b.c, b.n, t.c, t.n)
    q_values = benjamini_hochberg(p_values)
    regions = region_probabilities(b.n, b.c, t.n, t.c, budget)
    rate_b, rate_t = b.c / b.n, t.c / t.n
    significant = q_values < alpha
    _, delta = who_gains(b.n, b.c, t.n, t.c, int(common.min()))
    problems = [
        {
            "task_id": shared[i],
            "dataset": datasets[i],
            "n_base": b.n[i],
            "c_base": b.c[i],
            "n_tuned": t.n[i],
            "c_tuned": t.c[i],
            "region": REGIONS[int(np.argmax(regions[i]))],
            "crossover_k": _as_k(crossing[i]),
            "p_value": p_values[i],
            "q_value": q_values[i],
            "delta_pass_at_k": delta[i],
            "p_guess": None
            if luck is None
            else {"base": luck.p_guess["base"][i], "tuned": luck.p_guess["tuned"][i]},
        }
        for i in range(len(shared))
    ]
    problems_table = pa.table(
        {"task_id": shared, "dataset": datasets, "region": [p["region"] for p in problems]}
    )
    sides = {"base": b, "tuned": t}
    entropies = {"base": per.entropy_base, "tuned": per.entropy_tuned}
    result = {
        "leash_compare_version": 1,
        "runs": {"base": _run_info(b), "tuned": _run_info(t)},
        "n": {
            "base": int(b.n.max()) if b.n.min() == b.n.max() else b.n.tolist(),
            "tuned": int(t.n.max()) if t.n.min() == t.n.max() else t.n.tolist(),
        },
        "tasks": {"compared": len(shared), "intersect": intersect},
        **overall,
        "significance": {
            "test": "fisher_exact_two_sided",
            "correction": "benjamini_hochberg",
            "alpha": alpha,
            "shrinkage": [shared[i] for i in np.flatnonzero(significant & (rate_b > rate_t))],
            "expansion": [shared[i] for i in np.flatnonzero(significant & (rate_t > rate_b))],
        },
        "by_dataset": by_dataset,
        "support_by_k": _support_by_k(b, t, [k for k in ks_list if k <= k_common]),
        "luck_cost": None if luck is None else luck.info,
        "perplexity": perplexity_blocks(sides, problems_table),
        "entropy": entropy_table(sides, problems_table, entropies),
        "problems": problems,
    }
    cleaned: dict[str, Any] = _clean(result)
    return cleaned


def write_comparison(result: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write compare.json and compare.md into out_dir; returns both paths."""
    return write_json_and_markdown(result, render_markdown(result), out_dir, "compare")
