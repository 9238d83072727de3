"""`leash import`: bring generations made by other tools into a run directory.

Formats (a registry, `FORMATS`): `jsonl` (our own simple rows), `lm-eval`
(`--log_samples` output), `lighteval` (details parquet). The whole file is parsed
and checked before anything is written, so a bad line leaves the run untouched;
importing the same file again adds nothing (rows are keyed by task_id, sample_idx).
Correctness the file carries goes to `grades/imported/`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from leash.errors import LeashError
from leash.importers import jsonl as _jsonl  # noqa: F401  (registers the format)
from leash.importers import lighteval as _lighteval  # noqa: F401
from leash.importers import lm_eval as _lm_eval  # noqa: F401
from leash.importers.registry import FORMATS, ImportOptions, register_format
from leash.jsonl import require_file
from leash.store import GRADES, SAMPLES, TASKS, Run, create_run
from leash.tasks.files import read_task_file

__all__ = ["FORMATS", "ImportOptions", "ImportSummary", "import_generations", "register_format"]

IMPORTED_GRADER = "imported"


@dataclass
class ImportSummary:
    run: Path
    tasks: int
    samples_added: int
    samples_total: int
    grades_added: int
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_rows(run: Run, table: str, rows: list[dict]) -> list[dict]:
    stored = run.keys(table)
    if not stored:
        return rows
    have = {(t, int(i)) for t, idx in stored.items() for i in idx}
    return [r for r in rows if (r["task_id"], r["sample_idx"]) not in have]


def _merge_tasks(from_file: dict[str, dict], tasks_file: Path | None) -> pa.Table:
    """Task definitions from --tasks win; the generations file fills in the rest."""
    parsed = pa.Table.from_pylist(list(from_file.values()), schema=TASKS)
    if tasks_file is None:
        return parsed
    defined = read_task_file(tasks_file)
    defined_ids = set(defined["task_id"].to_pylist())
    unknown = sorted(set(from_file) - defined_ids)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise LeashError(
            f"{len(unknown)} task ids of the generations are not in --tasks {tasks_file}: {shown}"
        )
    rows = defined.to_pylist()
    for row in rows:  # keep the dataset/prompt the generations carry where --tasks has none
        extra = from_file.get(row["task_id"])
        if extra:
            for key in ("dataset", "prompt", "reference"):
                if row[key] is None:
                    row[key] = extra[key]
    return pa.Table.from_pylist(rows, schema=TASKS)


def _check_same_source(run: Run, file: Path, fmt: str) -> None:
    meta = run.meta()
    source = meta.get("source") or {}
    if run.shards("samples") and source.get("file") != str(file):
        origin = source.get("file") or meta.get("sampling", {}).get("model") or "another source"
        raise LeashError(
            f"run {run.path} already holds samples from {origin}; import {file} into a new --run"
        )
    if source.get("format") not in (None, fmt):
        raise LeashError(f"run {run.path} was imported as {source.get('format')!r}, not {fmt!r}")


def import_generations(
    file: str | Path,
    run_dir: str | Path,
    fmt: str = "jsonl",
    tasks_file: str | Path | None = None,
    model: str | None = None,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Parse `file` in format `fmt` and store it in the run at `run_dir` (created if new)."""
    if fmt not in FORMATS:
        raise LeashError(f"unknown format {fmt!r}; choose one of: {', '.join(sorted(FORMATS))}")
    path = require_file(file, "generations file").resolve()
    tasks_path = require_file(tasks_file, "--tasks file").resolve() if tasks_file else None
    generations = FORMATS[fmt](path, options or ImportOptions())
    if not generations.samples:
        raise LeashError(f"{path}: no completions found; nothing imported")
    tasks = _merge_tasks(generations.tasks, tasks_path)

    run_path = Path(run_dir)
    if (run_path / "run.json").exists():
        run = Run(run_path)
        _check_same_source(run, path, fmt)
    source = {
        "kind": "import",
        "format": fmt,
        "file": str(path),
        "sha256": _sha256(path),
        **generations.source,
    }
    run = create_run(run_path, {"model": model or path.stem, "source": source})

    new_samples = _missing_rows(run, "samples", generations.samples)
    new_grades = _missing_rows(run, f"grades/{IMPORTED_GRADER}", generations.grades)
    run.write_tasks(tasks)
    run.append("samples", pa.Table.from_pylist(new_samples, schema=SAMPLES))
    if new_grades:
        run.append(f"grades/{IMPORTED_GRADER}", pa.Table.from_pylist(new_grades, schema=GRADES))
    if tasks_path is not None:
        source["tasks_file"] = str(tasks_path)
    total = sum(len(v) for v in run.keys("samples").values())
    run.update_meta(
        {
            "source": source,
            "counts": {"tasks": run.read_tasks().num_rows, "samples": total},
            "graders": run.names("grades"),
            **({"model": model} if model else {}),
        }
    )
    return ImportSummary(
        run=run.path,
        tasks=tasks.num_rows,
        samples_added=len(new_samples),
        samples_total=total,
        grades_added=len(new_grades),
        notes=generations.notes,
    )
