"""leash's verifiers as RL rewards: train and evaluate with the same grader.

TRL (`GRPOTrainer(reward_funcs=[...])`): `reward_function("math")` returns a plain
callable `(completions, **dataset_columns) -> list[float]`, usable outside the
trainer too. It reads the task's reference from a `reference` column (a JSON
object or string) or an `answer` column, and caches verdicts per (task, answer)
through a `task_id` column when there is one.

verl (`custom_reward_function.path=leash/rewards.py`, `name=compute_score`):
`compute_score(data_source, solution_str, ground_truth, extra_info)` returns a float.
The verifier is `extra_info["verifier"]`, else the data source's name when it is a
registered verifier, else `math`. verl calls a plain function, so verifiers are kept
in a small per-process cache (one per name) to reuse their worker pools.

Timeouts and the sandbox are the grading stage's own.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal

from leash.grading import VERIFIERS, GradeItem, Verifier, get_verifier

__all__ = ["compute_score", "reward_function"]


def _text(completion: Any) -> str:
    """TRL passes strings, or (conversational) lists of messages: take the assistant text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def _reference(value: Any, answer: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = {"answer": value}
        return parsed if isinstance(parsed, dict) else {"answer": parsed}
    return None if answer is None else {"answer": answer}


def _task_key(task_id: Any, reference: dict[str, Any] | None) -> str:
    if task_id is not None:
        return str(task_id)
    digest = hashlib.blake2b(json.dumps(reference, sort_keys=True, default=str).encode(), digest_size=8)
    return digest.hexdigest()


def reward_function(
    verifier: str = "math",
    *,
    workers: int = 2,
    timeout: float = 10.0,
    reward: Literal["correct", "score"] = "correct",
) -> Callable[..., list[float]]:
    """A TRL reward function: 1.0 / 0.0 per completion (`reward="score"`: partial credit)."""
    engine: list[Verifier] = []

    def leash_reward(completions: list[Any], **columns: Any) -> list[float]:
        if not engine:
            engine.append(get_verifier(verifier, workers=workers, timeout=timeout))
        n = len(completions)
        refs = columns.get("reference") or [None] * n
        answers = columns.get("answer") or [None] * n
        ids = columns.get("task_id") or [None] * n
        items = []
        for text, ref, ans, task_id in zip(completions, refs, answers, ids, strict=True):
            reference = _reference(ref, ans)
            items.append(GradeItem(_task_key(task_id, reference), _text(text), reference))
        verdicts = engine[0].grade(items)
        return [float(v.correct) if reward == "correct" else float(v.score) for v in verdicts]

    leash_reward.__name__ = f"leash_{verifier}"
    return leash_reward


@functools.cache
def _cached_verifier(name: str) -> Verifier:
    return get_verifier(name, workers=1, timeout=10.0)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
) -> float:
    """verl's reward entry point: 1.0 if `solution_str` is correct for `ground_truth`, else 0.0."""
    extra = extra_info or {}
    name = extra.get("verifier") or (data_source if data_source in VERIFIERS else "math")
    reference = _reference(ground_truth, None)
    task = _task_key(extra.get("task_id") or extra.get("index"), reference)
    (verdict,) = _cached_verifier(name).grade([GradeItem(task, str(solution_str), reference)])
    return float(verdict.correct)
