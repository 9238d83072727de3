"""The JSONL task-definition format: one task per line.

    {"task_id": "gsm8k/17", "prompt": "...", "answer": "42", "verifier": "math",
     "dataset": "gsm8k", "reference": {...}}

Only task_id is required. `reference` is a JSON object (a gold answer, unit tests,
a reasoning-gym entry); a plain `answer` is stored in it as {"answer": ...}. Any
other field goes to `meta`.

The published layouts of HumanEval and MBPP are read as they are (`published_layout`):

    {"task_id": "HumanEval/0", "prompt": "...", "test": "def check(candidate): ...",
     "entry_point": "f", "canonical_solution": "..."}           -> reference {test, entry_point, prompt}
    {"task_id": 2, "text": "...", "code": "...", "test_list": ["assert ..."],
     "test_setup_code": "", "challenge_test_list": []}            -> reference {tests, imports}
    {"task_id": 2, "prompt": "...", "test_list": [...], "test_imports": [...]}   (MBPP sanitized)

both with verifier `code` unless the line names one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.errors import LeashError
from leash.jsonl import read_jsonl
from leash.store import TASKS

__all__ = ["check_verifier", "published_layout", "read_task_file", "task_row"]

_KNOWN = {"task_id", "prompt", "answer", "verifier", "dataset", "reference"}
LAYOUT_FIELDS = {"test", "entry_point", "test_list", "test_imports", "test_setup_code"}  # go to `reference`


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


_HUMANEVAL = ("test", "entry_point")
_MBPP = ("test_list",)


def published_layout(obj: dict[str, Any], where: str) -> dict[str, Any] | None:
    """The `reference` of a line in HumanEval's or MBPP's published layout; None for other lines.

    Half a layout, or a layout beside its own `reference`, is refused with one line that
    says where the fields go."""
    fields = [f for f in (*_HUMANEVAL, *_MBPP) if f in obj]
    if not fields:
        return None
    if obj.get("reference") is not None:
        raise LeashError(
            f"{where}: {', '.join(map(repr, fields))} at the top level and a 'reference' both given; "
            "keep HumanEval/MBPP fields at the top level as published, or move them all into 'reference'"
        )
    if "test_list" in obj:
        tests = obj["test_list"]
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise LeashError(f"{where}: MBPP 'test_list' must be a list of assert statements (strings)")
        imports = obj.get("test_imports")
        if imports is None:
            setup = obj.get("test_setup_code") or ""
            imports = [setup] if isinstance(setup, str) and setup.strip() else []
        if not isinstance(imports, list) or not all(isinstance(t, str) for t in imports):
            raise LeashError(f"{where}: MBPP 'test_imports' must be a list of strings")
        return {"tests": tests, "imports": imports}
    missing = [f for f in _HUMANEVAL if not isinstance(obj.get(f), str) or not obj[f]]
    if missing:
        raise LeashError(
            f"{where}: HumanEval layout needs 'test' and 'entry_point' (strings) at the top level; "
            f"{' and '.join(map(repr, missing))} missing. Or put them in 'reference': "
            '{"test": ..., "entry_point": ..., "prompt": ...}'
        )
    prompt = obj.get("prompt")
    return {
        "test": obj["test"],
        "entry_point": obj["entry_point"],
        "prompt": prompt if isinstance(prompt, str) else "",
    }


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
        published = published_layout(obj, where)
        reference = dict(reference or published or {})
        if obj.get("prompt") is None and published is not None and isinstance(obj.get("text"), str):
            obj = {**obj, "prompt": obj["text"]}  # MBPP's original layout calls the prompt `text`
        if published is not None and obj.get("verifier") is None:
            obj = {**obj, "verifier": "code"}
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
                meta={k: v for k, v in obj.items() if k not in _KNOWN and k not in LAYOUT_FIELDS},
            )
        )
    if not rows:
        raise LeashError(f"{path}: no tasks found (only blank lines)")
    return pa.Table.from_pylist(rows, schema=TASKS)
