"""Tasks: what to ask. Sources are named by spec strings (`rg:`, `file:`, `hf:`, presets).

`load_tasks(spec)` returns `Task`s; `write_task_file` saves them in the JSONL
task-definition format that `file:` and `leash import --tasks` read back.
"""

from __future__ import annotations

import json
from pathlib import Path

from leash.errors import LeashError
from leash.tasks.files import read_task_file, task_row
from leash.tasks.sources import SOURCES, Columns, Task, load_tasks, parse_spec, register_source

__all__ = [
    "SOURCES",
    "Columns",
    "Task",
    "check_output_file",
    "load_tasks",
    "parse_spec",
    "read_task_file",
    "register_source",
    "task_row",
    "write_task_file",
]


def check_output_file(path: str | Path, flag: str) -> Path:
    """The path a command may write a file to: not a directory, in a folder that exists."""
    out = Path(path)
    if out.is_dir():
        raise LeashError(f"{flag} {out}: is a directory; give a file path, e.g. {out / 'tasks.jsonl'}")
    if not out.parent.is_dir():
        raise LeashError(f"{flag} {out}: the folder {out.parent} does not exist; create it first")
    return out


def write_task_file(tasks: list[Task], path: str | Path) -> Path:
    """Write tasks as JSONL (task_id, prompt, verifier, dataset, reference, system, meta fields)."""
    out = check_output_file(path, "--out")
    tmp = out.with_name(f".{out.name}.partial")
    with open(tmp, "w", encoding="utf-8") as handle:
        for t in tasks:
            row = {
                "task_id": t.task_id,
                "prompt": t.question,
                "dataset": t.dataset,
                "verifier": t.verifier,
                "reference": t.reference,
                **({"system": t.system} if t.system is not None else {}),
                **{k: v for k, v in t.meta.items() if k not in ("task_id", "prompt", "reference")},
            }
            handle.write(json.dumps(row, default=str) + "\n")
    tmp.replace(out)
    return out
