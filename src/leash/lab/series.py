"""`leash lab series CHECKPOINTS --out DIR`: support over training, from `leash lab rl --save-every N`.

Every `step-NNNNNN` folder under CHECKPOINTS (step 0 is the start model) is sampled on the
demo's held-out problems at the papers' temperature 0.6 / top-p 0.95, graded, and the runs are
compared as a series (`leash.compare.series`): per step pass@1, pass@k_max, SRR, NDR, NSCR against
step 0, cover@tau and answer entropy. DIR gets runs/step-NNNNNN/, series.json, series.md and
series.png. Sampling resumes: a second call samples only what is missing.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leash.compare.series import DEFAULT_TAUS, compare_series, write_series
from leash.errors import LeashError
from leash.grading import grade_run
from leash.lab.study import EVAL_TASKS
from leash.sampling import SamplingParams, sample_run

__all__ = ["checkpoints", "run_series"]

_STEP_DIR = re.compile(r"step-(\d+)")


def checkpoints(folder: str | Path) -> list[Path]:
    """The `step-NNNNNN` checkpoint folders under `folder`, in step order."""
    root = Path(folder)
    if not root.is_dir():
        raise LeashError(f"{root}: not a folder; give the --out of `leash lab rl --save-every N`")
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_DIR.fullmatch(p.name)]
    if len(found) < 2:
        raise LeashError(
            f"{root} has {len(found)} step-NNNNNN checkpoint folder(s); a series needs two or more: "
            "make them with `leash lab rl BASE --out DIR --save-every N`"
        )
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def run_series(
    folder: str | Path,
    out: str | Path,
    *,
    problems: int = 64,
    n: int = 256,
    seed: int = 0,
    taus: tuple[float, ...] = DEFAULT_TAUS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Sample, grade and compare every checkpoint of `folder`; returns the series dictionary."""
    steps = checkpoints(folder)
    if importlib.util.find_spec("matplotlib") is None:  # before sampling, not after
        raise LeashError("leash lab series draws series.png with matplotlib: pip install 'leash[report]'")
    if problems < 1 or n < 1:
        raise LeashError(f"--problems {problems} --n {n}: both must be >= 1")
    out = Path(out)
    tasks = EVAL_TASKS.format(problems=problems)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=12, stop=("\n",), seed=seed)
    runs = []
    for model in steps:
        run = out / "runs" / model.name
        log(f"[{model.name}] sample {problems} x {n}, grade")
        sample_run(str(model), tasks, n, run, params=params, batch_size=256, chat_template=False)
        grade_run(run)
        runs.append(run)
    result = compare_series(runs, taus=taus)
    write_series(result, out)
    from leash.report import plots

    files: dict[str, bytes] = {}
    plots.save(plots.series_figure([(Path(folder).name, result)]), files, "series")
    for name, data in files.items():
        (out / name).write_bytes(data)
    return result
