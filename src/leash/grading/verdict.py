"""A verifier's verdict on one completion: never an exception, always a status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["STATUSES", "GradeItem", "Verdict"]

Status = Literal["ok", "no_answer", "timeout", "error"]
STATUSES: tuple[Status, ...] = ("ok", "no_answer", "timeout", "error")


@dataclass(frozen=True)
class Verdict:
    correct: bool
    score: float  # 1.0 / 0.0, or a verifier's partial credit (reasoning-gym)
    answer: str | None  # the canonical final answer; None when none was found
    status: Status  # ok | no_answer | timeout | error
    detail: str | None = None

    def row(self, task_id: str, sample_idx: int) -> dict[str, Any]:
        return {"task_id": task_id, "sample_idx": sample_idx, **asdict(self)}


def no_answer(detail: str = "no final answer found") -> Verdict:
    return Verdict(False, 0.0, None, "no_answer", detail)


def failed(status: Status, detail: str, answer: str | None = None) -> Verdict:
    return Verdict(False, 0.0, answer, status, detail[:500])


@dataclass(frozen=True)
class GradeItem:
    """One completion to grade, with its task's reference (parsed JSON) and metadata."""

    task_id: str
    text: str
    reference: dict[str, Any] | None
    meta: dict[str, Any] | None = None
