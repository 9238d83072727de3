"""The JSONL task-definition format: one task per line.

    {"task_id": "gsm8k/17", "prompt": "...", "answer": "42", "verifier": "math",
     "dataset": "gsm8k", "reference": {...}}

Only task_id is required. `reference` is a JSON object (a gold answer, unit tests,
a reasoning-gym entry); a plain `answer` is stored in it as {"answer": ...}. Any
other field goes to `meta`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.errors import LeashError
from leash.jsonl import read_jsonl
from leash.store import TASKS

__all__ = ["check_verifier", "read_task_file", "task_row"]

_KNOWN = {"task_id", "prompt", "answer", "verifier", "dataset", "reference"}


def task_row(
    task_id: str,
    *,
    dataset: str | None = None,
    prompt: str | None = None,
    reference: dict[str, Any] | None = None,
    verifier: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One row of tasks.parquet, with reference and meta serialised as JSON."""
    return {
        "task_id": task_id,
        "dataset": dataset,
        "prompt": prompt,
        "reference": None if reference is None else json.dumps(reference, sort_keys=True),
        "verifier": verifier,
        "meta": json.dumps(meta or {}, sort_keys=True),
    }


def check_verifier(name: str | None, where: str) -> None:
    """Refuse a verifier name nothing is registered under; None (chosen at grade time) passes."""
    if name is None:
        return
    from leash.grading import VERIFIERS  # registers the built-in verifiers

    if name not in VERIFIERS:
        raise LeashError(
            f"{where}: unknown verifier {name!r}; use one of {', '.join(sorted(VERIFIERS))}, "
            "or leave it out and pass `leash grade --verifier NAME`"
        )


def _as_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise LeashError(f"{where}: task_id must be a non-empty string or an integer, got {value!r}")
    return str(value)


def read_task_file(path: str | Path) -> pa.Table:
    """Read task definitions (JSONL) into a tasks.parquet table; duplicate ids are refused."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line_no, obj in read_jsonl(path):
        where = f"{path}:{line_no}"
        if "task_id" not in obj:
            raise LeashError(f"{where}: missing field 'task_id' (fields present: {sorted(obj)})")
        task_id = _as_id(obj["task_id"], where)
        if task_id in seen:
            raise LeashError(f"{where}: duplicate task_id {task_id!r} (first on line {seen[task_id]})")
        seen[task_id] = line_no
        reference = obj.get("reference")
        if reference is not None and not isinstance(reference, dict):
            raise LeashError(f"{where}: 'reference' must be a JSON object, got {type(reference).__name__}")
        reference = dict(reference or {})
        if obj.get("answer") is not None:
            reference.setdefault("answer", obj["answer"])
        for field in ("prompt", "verifier", "dataset"):
            if obj.get(field) is not None and not isinstance(obj[field], str):
                raise LeashError(f"{where}: '{field}' must be a string, got {type(obj[field]).__name__}")
        check_verifier(obj.get("verifier"), where)
        rows.append(
            task_row(
                task_id,
                dataset=obj.get("dataset"),
                prompt=obj.get("prompt"),
                reference=reference or None,
                verifier=obj.get("verifier"),
                meta={k: v for k, v in obj.items() if k not in _KNOWN},
            )
        )
    if not rows:
        raise LeashError(f"{path}: no tasks found (only blank lines)")
    return pa.Table.from_pylist(rows, schema=TASKS)
