"""A tiny base/tuned pair for the browser tests, written the way `leash import` writes runs.

Answers ending in '*' are correct. 12 problems, 16 samples each, two datasets:
- a0-a3: both solve them (preservation);
- a4-a7: the base finds "7" (correct) once or more, the tuned model never (shrinkage);
  a4 is lost outright: the base 16/16, the tuned 0/16 (significant after BH);
- b0-b3: the tuned model solves what the base never does (expansion), b0 16/16 vs 0/16.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from leash.importers import import_generations
from tests.conftest import generations, write_jsonl

N = 16
HOSTILE = '<script>window.__pwned = 1; alert("x")</script><img src=x onerror="window.__pwned=2">'


def _answers() -> tuple[dict[str, list], dict[str, list]]:
    base, tuned = {}, {}
    for i in range(4):
        base[f"a{i}"] = ["5*"] * 4 + ["2"] * (N - 4)
        tuned[f"a{i}"] = ["5*"] * 12 + ["2"] * (N - 12)
    base["a4"], tuned["a4"] = ["7*"] * N, ["3"] * N
    for i in (5, 6, 7):
        base[f"a{i}"] = ["7*"] * i + ["3"] * (N - i)
        tuned[f"a{i}"] = ["3"] * 10 + [None] * (N - 10)
    base["b0"], tuned["b0"] = ["4"] * N, ["9*"] * N
    for i in (1, 2, 3):
        base[f"b{i}"] = ["4"] * N
        tuned[f"b{i}"] = ["9*"] * 2 + ["4"] * (N - 2)
    return base, tuned


BASE, TUNED = _answers()
LOST = ["a4", "a5", "a6", "a7"]  # region S at k = N: the base solves them, the tuned model never


def _rows(answers: dict[str, list]) -> list[dict]:
    rows = []
    for row in generations(answers):
        task = row["task_id"]
        answer = row["answer"]
        row["dataset"] = "alpha" if task.startswith("a") else "beta"
        row["prompt"] = f"Problem {task}: what is $\\frac{{14}}{{2}}$? {HOSTILE}"
        think = f"<think>I try {HOSTILE} and \\frac{{1}}{{2}} first.</think>"
        row["completion"] = f"{think} The answer is \\boxed{{{answer}}}." if answer else f"{think} I give up."
        rows.append(row)
    return rows


def write_pair(root: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for name, answers in (("base", BASE), ("tuned", TUNED)):
        write_jsonl(root / f"{name}.jsonl", _rows(answers))
        import_generations(root / f"{name}.jsonl", root / name, model=f"models/{name}")
        out.append(root / name)
    return out


def copy_pair(pair: list[Path], root: Path) -> list[Path]:
    """A fresh copy of the pair (tests that write labels must not see each other's)."""
    return [Path(shutil.copytree(p, root / p.name)) for p in pair]
