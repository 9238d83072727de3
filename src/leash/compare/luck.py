"""The luck baseline of a comparison: could guessing from the pooled answers pass each problem?

For each run and dataset, the *pool* is every sample's final answer (the `answer`
column, answer grain; samples without one are left out) with its frequency. A
problem's p_guess is the pool's share that the problem's verifier accepts, and
luck@k = 1 − (1 − p_guess)^k (`leash.metrics.luck`).

Cost and its bound: the verdict of answer a on problem p is known without grading
when a was given on p in either run (its grades say); every other pair is graded
once, through the task's own verifier (`leash.grading.answers`, its workers and
sandbox), never in this process. Only each run's `max_answers` most frequent answers
per dataset are graded against every problem of the dataset, so a comparison grades
at most 2 · max_answers · problems pairs; the rest of the pool counts as not
accepted, which makes p_guess a lower bound, and `unchecked_share` says how much of
the pool that is (0 when every answer was checked).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from leash.compare.load import RunGrades
from leash.metrics import luck_at_k, mean_with_band, within_luck

__all__ = ["DEFAULT_MAX_ANSWERS", "LuckArrays", "luck_arrays", "luck_block"]

DEFAULT_MAX_ANSWERS = 64
_CHOICE_LETTERS = 5  # the `choice` verifier reads the letters A-E


@dataclass
class LuckArrays:
    """Per-problem guessing rates (NaN where the problem has no luck baseline) and the cost."""

    p_guess: dict[str, NDArray[np.float64]]  # side -> [problems]
    unchecked: dict[str, NDArray[np.float64]]  # side -> pool share never graded on the problem
    p_uniform: NDArray[np.float64]  # 1/options for `choice` problems, NaN elsewhere
    info: dict[str, Any] = field(default_factory=dict)


def _tasks(grades: RunGrades) -> dict[str, tuple[str | None, dict[str, Any] | None]]:
    out: dict[str, tuple[str | None, dict[str, Any] | None]] = {}
    for row in grades.run.read_tasks().select(["task_id", "verifier", "reference"]).to_pylist():
        try:
            reference = json.loads(row["reference"]) if row["reference"] else None
        except json.JSONDecodeError:
            reference = None
        out[row["task_id"]] = (row["verifier"], reference if isinstance(reference, dict) else None)
    return out


def _verifiers(grades: RunGrades, tasks: dict[str, tuple[str | None, Any]]) -> list[str | None]:
    """The verifier that judged each problem: the grader's name when it is a verifier (a
    `--verifier` override graded every task with it), else the task's own."""
    from leash.grading import VERIFIERS

    if grades.grader in VERIFIERS:
        return [grades.grader] * len(grades.task_ids)
    return [tasks.get(t, (None, None))[0] for t in grades.task_ids]


def _pools(grades: RunGrades, datasets: list[str]) -> dict[str, Counter[str]]:
    pools: dict[str, Counter[str]] = defaultdict(Counter)
    for p, answer, m in zip(
        grades.class_problem.tolist(), grades.class_answer, grades.class_count.tolist(), strict=True
    ):
        if answer is not None:
            pools[datasets[p]][answer] += m
    return pools


def _known(sides: list[RunGrades]) -> dict[tuple[int, str], bool]:
    """Verdicts the runs already hold: answer a given on problem p (the base's first)."""
    known: dict[tuple[int, str], bool] = {}
    for grades in sides:
        for p, answer, ok in zip(
            grades.class_problem.tolist(), grades.class_answer, grades.class_correct.tolist(), strict=True
        ):
            if answer is not None:
                known.setdefault((p, answer), bool(ok))
    return known


def _options(reference: dict[str, Any] | None) -> int:
    for key in ("choices", "options"):
        value = (reference or {}).get(key)
        if isinstance(value, list | dict) and 1 <= len(value) <= _CHOICE_LETTERS:
            return len(value)
    return _CHOICE_LETTERS


def luck_arrays(
    base: RunGrades,
    tuned: RunGrades,
    datasets: list[str],
    *,
    max_answers: int = DEFAULT_MAX_ANSWERS,
    workers: int = 2,
    timeout: float = 10.0,
) -> LuckArrays | None:
    """p_guess per problem for both runs; None when no problem's verifier can grade a bare answer
    (code, lm-eval, imported verdicts without a verifier) or neither run recorded answers."""
    from leash.grading.answers import ANSWER_TEXT, grade_answers

    if not (base.has_answers or tuned.has_answers):
        return None
    tasks = _tasks(base)
    verifiers = _verifiers(base, tasks)
    usable = np.array([v in ANSWER_TEXT for v in verifiers])
    if not usable.any():
        return None
    sides = {"base": base, "tuned": tuned}
    pools = {side: _pools(g, datasets) for side, g in sides.items()}
    known = _known([base, tuned])
    rows_of: dict[str, list[int]] = defaultdict(list)
    for p, d in enumerate(datasets):
        if usable[p]:
            rows_of[d].append(p)

    checked: dict[str, list[str]] = {}  # dataset -> answers graded against all its problems
    todo: dict[str, list[tuple[int, str]]] = defaultdict(list)  # verifier -> pairs
    for d, rows in rows_of.items():
        top: dict[str, None] = {}
        for side in sides:
            ranked = sorted(pools[side][d].items(), key=lambda item: (-item[1], item[0]))
            top.update((a, None) for a, _ in ranked[:max_answers])
        checked[d] = list(top)
        for p in rows:
            todo[str(verifiers[p])] += [(p, a) for a in checked[d] if (p, a) not in known]
    verdicts = dict(known)
    failed = 0
    for name, pairs in todo.items():
        references = {base.task_ids[p]: tasks.get(base.task_ids[p], (None, None))[1] for p, _ in pairs}
        ok, bad = grade_answers(
            name, [(base.task_ids[p], a) for p, a in pairs], references, workers=workers, timeout=timeout
        )
        verdicts.update(zip(pairs, ok, strict=True))
        failed += bad

    n = len(base.task_ids)
    known_on: dict[int, list[str]] = defaultdict(list)
    for p, a in known:
        known_on[p].append(a)
    p_guess = {side: np.full(n, np.nan) for side in sides}
    unchecked = {side: np.full(n, np.nan) for side in sides}
    for side in sides:
        for d, rows in rows_of.items():
            pool = pools[side][d]
            total = sum(pool.values())
            for p in rows:
                # Only answers checked on every problem, or given on this one, have a verdict here.
                seen = dict.fromkeys(checked[d]) | dict.fromkeys(known_on[p])
                mass = sum(pool.get(a, 0) for a in seen)
                hit = sum(pool.get(a, 0) for a in seen if verdicts[(p, a)])
                p_guess[side][p] = hit / total if total else 0.0
                unchecked[side][p] = (total - mass) / total if total else 0.0
    p_uniform = np.array(
        [
            1.0 / _options(tasks.get(t, (None, None))[1]) if v == "choice" else np.nan
            for t, v in zip(base.task_ids, verifiers, strict=True)
        ]
    )
    info = {
        "pool": "each run's final answers (answer column) over the problem's dataset",
        "verifiers": sorted({str(v) for v, u in zip(verifiers, usable, strict=True) if u}),
        "problems_without_baseline": int((~usable).sum()),
        "max_answers": max_answers,
        "distinct_answers": {d: {side: len(pools[side][d]) for side in sides} for d in sorted(rows_of)},
        "answers_checked": {d: len(a) for d, a in sorted(checked.items())},
        "pairs_known": sum(1 for (p, _a) in known if usable[p]),
        "pairs_graded": sum(len(pairs) for pairs in todo.values()),
        "pairs_failed": failed,
    }
    return LuckArrays(p_guess=p_guess, unchecked=unchecked, p_uniform=p_uniform, info=info)


def luck_block(
    luck: LuckArrays,
    rows: NDArray[np.int64],
    n: dict[str, NDArray[np.int64]],
    c: dict[str, NDArray[np.int64]],
    ks: list[int],
    n_boot: int,
    seed: int,
) -> dict[str, Any] | None:
    """The luck curve and counts for the problems in rows that have a baseline."""
    have = rows[np.isfinite(luck.p_guess["base"][rows])]
    if len(have) == 0:
        return None
    curve: dict[str, Any] = {"k": ks}
    block: dict[str, Any] = {"n_problems": len(have), "pass_at_k": curve}
    for key in ("p_guess", "unchecked_share", "solved", "within_luck"):
        block[key] = {}
    for side in ("base", "tuned"):
        p_side = luck.p_guess[side][have]
        mean, lo, hi = mean_with_band(luck_at_k(p_side, ks), n_boot=n_boot, seed=seed)
        curve[side], curve[f"{side}_band"] = mean, np.stack([lo, hi], axis=1)
        block["p_guess"][side] = float(p_side.mean())
        block["unchecked_share"][side] = float(luck.unchecked[side][have].mean())
        block["solved"][side] = int((c[side][have] >= 1).sum())
        block["within_luck"][side] = int(within_luck(n[side][have], c[side][have], p_side).sum())
    choice = have[np.isfinite(luck.p_uniform[have])]
    block["uniform"] = (
        None
        if len(choice) == 0
        else {"n_problems": len(choice), "k": ks, "pass_at_k": luck_at_k(luck.p_uniform[choice], ks).mean(0)}
    )
    return block
