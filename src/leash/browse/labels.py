"""Manual labels from the browser: one row per keystroke, appended to the run's labels.parquet.

label ∈ {ok, lucky, bad-grade, note}; a row keeps the grader and the verdict the labeller saw
(`grader`, `graded`), so `bad-grade` means "the truth is the opposite of what I was shown"
even after a regrade. The latest verdict label of a sample supersedes earlier ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from leash.errors import LeashError
from leash.store import LABELS, Run

__all__ = ["LABEL_KINDS", "add_label", "latest_labels", "verdict_after"]

# What a label means to `leash compare` (leash.compare.load): lucky -> incorrect, bad-grade -> the
# opposite of the verdict shown, ok -> the grader's verdict; a note changes nothing.
LABEL_KINDS = ("ok", "lucky", "bad-grade", "note")
MAX_NOTE = 2000  # characters
_SCHEMA = pa.schema([*((f.name, f.type) for f in LABELS), ("grader", pa.string()), ("graded", pa.bool_())])


def add_label(
    run: Run, task_id: str, sample_idx: int, label: str, note: str | None, grader: str, graded: bool | None
) -> dict[str, Any]:
    """Append one label row (atomic, under the labels lock); returns the row as stored."""
    if label not in LABEL_KINDS:
        raise LeashError(f"label {label!r}: use one of {', '.join(LABEL_KINDS)}")
    if note is not None and len(note) > MAX_NOTE:
        raise LeashError(f"note of {len(note)} characters: keep it under {MAX_NOTE}")
    row = {
        "task_id": task_id,
        "sample_idx": int(sample_idx),
        "label": label,
        "note": note or None,
        # Microseconds: two keystrokes in one second still sort; ties fall back to file order.
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "grader": grader,
        "graded": graded,
    }
    run.add_labels(pa.Table.from_pylist([row], schema=_SCHEMA))
    return row


def verdict_after(label: str | None, graded: bool | None, correct: bool | None) -> bool:
    """A sample's verdict once its latest verdict label is applied (compare's rule, in Python)."""
    if label in ("lucky", "hack", "incorrect"):
        return False
    if label == "correct":
        return True
    if label == "bad-grade":
        return not (graded if graded is not None else bool(correct))
    return bool(correct)


def latest_labels(run: Run, task_id: str) -> dict[int, dict[str, Any]]:
    """sample_idx -> {label, note, created} for one task: the latest verdict label and latest note."""
    table = run.read_labels()
    if table.num_rows == 0:
        return {}
    rows = [r for r in table.to_pylist() if r["task_id"] == task_id]
    out: dict[int, dict[str, Any]] = {}
    # Stable sort by created keeps file order among equal times: the last one wins.
    for r in sorted(rows, key=lambda r: r["created"] or ""):
        entry = out.setdefault(
            int(r["sample_idx"]), {"label": None, "graded": None, "note": None, "created": None}
        )
        if r["label"] == "note":
            entry["note"] = r["note"]
        else:
            entry.update(label=r["label"], graded=r.get("graded"), created=r["created"])
            if r["note"]:
                entry["note"] = r["note"]
    return out
