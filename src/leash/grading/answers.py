"""Grade bare final answers against tasks: the luck baseline's (task, answer) pairs.

A canonical answer (the `answer` column of grades) is written back as the smallest
completion from which the verifier extracts it (`ANSWER_TEXT`: boxed for `math`, an
"answer:" line for the string verifiers, the expression itself for `arith`, an
<answer> tag for `rg`), then graded by that verifier as any completion is, in its own
workers and sandbox. Verifiers whose answers are not final answers (`code`, whose
answer is a program; `lm-eval`, whose filters read the whole text) have no entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leash.grading.registry import get_verifier
from leash.grading.verdict import GradeItem

__all__ = ["ANSWER_TEXT", "grade_answers", "register_answer_text"]

ANSWER_TEXT: dict[str, Callable[[str], str]] = {}


def register_answer_text(verifier: str, render: Callable[[str], str]) -> None:
    """Register how an answer is written as a completion for `verifier`; once per name."""
    if verifier in ANSWER_TEXT:
        raise ValueError(f"answer text for {verifier!r} is already registered")
    ANSWER_TEXT[verifier] = render


def grade_answers(
    verifier: str,
    pairs: list[tuple[str, str]],
    references: dict[str, dict[str, Any] | None],
    *,
    workers: int = 2,
    timeout: float = 10.0,
    batch: int = 4096,
) -> tuple[list[bool], int]:
    """Verdicts on (task_id, answer) pairs through `verifier`; returns (correct per pair, number
    of verdicts that were a timeout or an error, counted as not accepted)."""
    render = ANSWER_TEXT[verifier]
    engine = get_verifier(verifier, workers=workers, timeout=timeout)
    out: list[bool] = []
    failed = 0
    try:
        for start in range(0, len(pairs), batch):
            chunk = pairs[start : start + batch]
            items = [GradeItem(t, render(a), references.get(t)) for t, a in chunk]
            for verdict in engine.grade(items):
                out.append(bool(verdict.correct))
                failed += verdict.status in ("timeout", "error")
    finally:
        engine.close()
    return out, failed


register_answer_text("math", lambda a: f"\\boxed{{{a}}}")
register_answer_text("exact", lambda a: f"answer: {a}")
register_answer_text("choice", lambda a: f"answer: {a}")
register_answer_text("regex", lambda a: f"answer: {a}")
register_answer_text("arith", lambda a: a)
register_answer_text("rg", lambda a: f"<answer>{a}</answer>")
