"""The import-format registry and the collection of parsed generations.

A format is a function `(path, options) -> Generations`, registered by name with
`register_format` where it is defined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leash.errors import LeashError

__all__ = ["FORMATS", "Generations", "ImportOptions", "is_binary", "register_format", "split_verdicts"]


@dataclass(frozen=True)
class ImportOptions:
    """Format-specific choices; None lets the reader pick (and say what it picked)."""

    metric: str | None = None  # lm-eval / lighteval: the per-sample metric giving correctness
    filter: str | None = None  # lm-eval: which filter's rows to read


@dataclass
class Generations:
    """Completions parsed from one file, before anything is written to a run."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    grades: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # the model's name when the file records it (used unless --model)
    _next_idx: dict[str, int] = field(default_factory=dict)
    _taken: set[tuple[str, int]] = field(default_factory=set)

    def add(
        self,
        task_id: str,
        text: str,
        where: str,
        *,
        sample_idx: int | None = None,
        correct: bool | None = None,
        score: float | None = None,
        answer: str | None = None,
    ) -> None:
        """Add one completion; without sample_idx it takes the task's next free index."""
        if sample_idx is None:
            sample_idx = self._next_idx.get(task_id, 0)
            while (task_id, sample_idx) in self._taken:
                sample_idx += 1
        if (task_id, sample_idx) in self._taken:
            raise LeashError(f"{where}: duplicate sample_idx {sample_idx} for task {task_id!r}")
        self._taken.add((task_id, sample_idx))
        self._next_idx[task_id] = sample_idx + 1
        self.samples.append(
            {
                "task_id": task_id,
                "sample_idx": sample_idx,
                "seed": None,
                "text": text,
                "n_tokens": None,
                "finish_reason": None,
            }
        )
        if correct is not None:
            self.grades.append(
                {
                    "task_id": task_id,
                    "sample_idx": sample_idx,
                    "correct": correct,
                    "score": float(correct) if score is None else score,
                    "answer": answer,
                    "status": "ok" if answer is not None or correct else "no_answer",
                    "detail": "imported",
                }
            )

    def settle_grades(self, metric: str | None, ungraded: int, unit: str) -> None:
        """Record the metric, say what stayed ungraded, and keep grades for all samples or none.

        `ungraded` counts the `unit`s (documents, rows) whose metric covered several
        completions at once. Half-graded runs would make compare drop samples silently.
        """
        self.source["metric"] = metric
        if metric is None:
            self.notes.append(
                "no 0/1 per-sample metric found: samples imported ungraded (name one with --metric)"
            )
        elif ungraded:
            self.notes.append(
                f"{ungraded} {unit} log one {metric!r} value for several completions: "
                "their samples are imported ungraded; grade them with `leash grade`"
            )
        if self.grades and len(self.grades) != len(self.samples):
            self.grades = []
            self.notes.append(f"per-sample correctness is missing on some {unit}: no grades imported")


def is_binary(value: Any) -> bool:
    """A 0/1 metric value, or a non-empty list of them (one per sample)."""
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, bool | int | float) and v in (0, 1) for v in values)


def split_verdicts(value: Any, count: int, metric: str, where: str) -> list[bool] | None:
    """Per-sample verdicts from a metric value: a list with one entry per completion, or a
    scalar for a single completion; None when one value covers several completions."""
    if isinstance(value, list) and len(value) == count:
        values = value
    elif not isinstance(value, list) and count == 1:
        values = [value]
    else:
        return None
    for v in values:
        if not is_binary(v):
            raise LeashError(f"{where}: metric {metric!r} = {v!r} is not 0/1; choose one with --metric")
    return [bool(v) for v in values]


Reader = Callable[[Path, ImportOptions], Generations]
FORMATS: dict[str, Reader] = {}


def register_format(name: str, reader: Reader) -> None:
    """Register an import format; a name can be registered once."""
    if name in FORMATS:
        raise ValueError(f"import format {name!r} is already registered")
    FORMATS[name] = reader
