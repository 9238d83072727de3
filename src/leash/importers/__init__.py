"""`leash import`: bring generations made by other tools into a run directory.

Formats (a registry, `FORMATS`): `jsonl` (our own simple rows), `lm-eval`
(`--log_samples` output), `lighteval` (details parquet), `inspect` (Inspect AI `.eval`
/ `.json` logs, read with inspect-ai's own reader). The whole file is parsed
and checked before anything is written, so a bad line leaves the run untouched;
importing the same file again adds nothing (rows are keyed by task_id, sample_idx),
and importing it once edited is refused (its hash differs) unless `replace`, which
moves the old run aside. A new run is built in a temp folder beside it and renamed
into place at the end, so a failed import leaves no run behind. Correctness the
file carries goes to `grades/imported/`.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.errors import LeashError
from leash.importers import inspect_log as _inspect_log  # noqa: F401  (registers the format)
from leash.importers import jsonl as _jsonl  # noqa: F401
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


def _check_same_source(run: Run, file: Path, fmt: str, sha256: str, replace: bool) -> bool:
    """True when the run must be moved aside (`replace`); refuses another or an edited file."""
    meta = run.meta()
    source = meta.get("source") or {}
    if not run.shards("samples"):
        return False
    if source.get("file") != str(file):
        origin = source.get("file") or meta.get("sampling", {}).get("model") or "another source"
        if replace:
            return True
        raise LeashError(
            f"run {run.path} already holds samples from {origin}; import {file} into a new --run "
            "(or --replace to move the old run aside)"
        )
    if source.get("sha256") not in (None, sha256):
        if replace:
            return True
        raise LeashError(
            f"{file} changed since it was imported into {run.path} (sha256 {source['sha256'][:12]} -> "
            f"{sha256[:12]}); pass --replace to move the old run aside and import the file afresh"
        )
    if source.get("format") not in (None, fmt):
        raise LeashError(f"run {run.path} was imported as {source.get('format')!r}, not {fmt!r}")
    return False


def _check_text(generations: Any, path: Path) -> None:
    """Every string must be valid Unicode: a lone surrogate (JSON "\\ud800") cannot be stored."""

    def bad(value: object) -> bool:
        if not isinstance(value, str):
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    for kind, rows in (("samples", generations.samples), ("grades", generations.grades)):
        for row in rows:
            for column, value in row.items():
                if bad(value):
                    raise LeashError(
                        f"{path}: {column} of task {row['task_id']!r} (sample {row['sample_idx']}) holds a "
                        f"lone surrogate ({value.encode('utf-8', 'backslashreplace').decode()[:60]!r}), "
                        f"not valid Unicode; fix the file (its {kind} cannot be stored as UTF-8)"
                    )
    for task_id, task in generations.tasks.items():
        for column, value in task.items():
            if bad(value):
                shown = str(task_id).encode("utf-8", "backslashreplace").decode()
                raise LeashError(
                    f"{path}: {column} of task {shown!r} holds a lone surrogate, not valid Unicode; "
                    "fix the file"
                )


def import_generations(
    file: str | Path,
    run_dir: str | Path,
    fmt: str = "jsonl",
    tasks_file: str | Path | None = None,
    model: str | None = None,
    options: ImportOptions | None = None,
    replace: bool = False,
) -> ImportSummary:
    """Parse `file` in format `fmt` and store it in the run at `run_dir` (created if new).

    `replace`: a run holding another (or an edited) file is moved aside to
    `<run>.old-<time>` and the file imported into a fresh run.
    """
    if fmt not in FORMATS:
        raise LeashError(f"unknown format {fmt!r}; choose one of: {', '.join(sorted(FORMATS))}")
    path = require_file(file, "generations file").resolve()
    tasks_path = require_file(tasks_file, "--tasks file").resolve() if tasks_file else None
    generations = FORMATS[fmt](path, options or ImportOptions())
    if not generations.samples:
        raise LeashError(f"{path}: no completions found; nothing imported")
    _check_text(generations, path)
    tasks = _merge_tasks(generations.tasks, tasks_path)
    digest = _sha256(path)

    run_path = Path(run_dir)
    source = {"kind": "import", "format": fmt, "file": str(path), "sha256": digest, **generations.source}
    if tasks_path is not None:
        source["tasks_file"] = str(tasks_path)
    model = model or generations.model
    meta = {"model": model or path.stem, "source": source}
    notes = list(generations.notes)
    with ExitStack() as locks:
        if (run_path / "run.json").exists():
            run = Run(run_path)
            locks.enter_context(run.lock("samples"))
            if _check_same_source(run, path, fmt, digest, replace):
                aside = run_path.with_name(f"{run_path.name}.old-{datetime.now(UTC):%Y%m%d-%H%M%S}")
                if run.busy():
                    raise LeashError(f"run {run.path}: {', '.join(run.busy())} is being written; try later")
                run_path.rename(aside)
                locks.close()
                notes.append(f"moved the previous run to {aside}")
        if (run_path / "run.json").exists():
            run = create_run(run_path, meta)
            locks.enter_context(run.lock("samples"))
            locks.enter_context(run.lock(f"grades/{IMPORTED_GRADER}"))
            added, graded, total = _store(run, generations, tasks, source, model)
        else:
            added, graded, total = _store_new(run_path, meta, generations, tasks, source, model)
    return ImportSummary(run_path, tasks.num_rows, added, total, graded, notes)


def _store(
    run: Run, generations: Any, tasks: pa.Table, source: dict[str, Any], model: str | None
) -> tuple[int, int, int]:
    """Write what the run lacks; the caller holds the samples and grades/imported locks."""
    new_samples = _missing_rows(run, "samples", generations.samples)
    new_grades = _missing_rows(run, f"grades/{IMPORTED_GRADER}", generations.grades)
    run.write_tasks(tasks)
    run.append("samples", pa.Table.from_pylist(new_samples, schema=SAMPLES))
    if new_grades:
        run.append(f"grades/{IMPORTED_GRADER}", pa.Table.from_pylist(new_grades, schema=GRADES))
    total = sum(len(v) for v in run.keys("samples").values())
    run.update_meta(
        {
            "source": source,
            "counts": {"tasks": run.read_tasks().num_rows, "samples": total},
            "graders": run.names("grades"),
            **({"model": model} if model else {}),
        }
    )
    return len(new_samples), len(new_grades), total


def _store_new(
    run_path: Path,
    meta: dict[str, Any],
    generations: Any,
    tasks: pa.Table,
    source: dict[str, Any],
    model: str | None,
) -> tuple[int, int, int]:
    """A new run: built in a temp folder beside `run_path`, renamed into place when whole."""
    if run_path.exists() and (not run_path.is_dir() or any(run_path.iterdir())):
        if not run_path.is_dir():
            raise LeashError(f"{run_path} exists and is not a directory; choose another --run")
        # A folder with files but no run.json (e.g. a copied tasks.parquet): fill it in place.
        run = create_run(run_path, meta)
        with run.lock("samples"), run.lock(f"grades/{IMPORTED_GRADER}"):
            return _store(run, generations, tasks, source, model)
    run_path.parent.mkdir(parents=True, exist_ok=True)
    staging = run_path.with_name(f".tmp-{uuid.uuid4().hex}-{run_path.name}.partial")
    try:
        run = create_run(staging, {**meta, "name": run_path.name})
        with run.lock("samples"), run.lock(f"grades/{IMPORTED_GRADER}"):
            result = _store(run, generations, tasks, source, model)
        try:
            os.rename(staging, run_path)  # onto a missing or empty folder
        except OSError as err:
            raise LeashError(f"{run_path} appeared while importing; import into it again ({err})") from err
    finally:
        if staging.exists():
            import shutil

            shutil.rmtree(staging)  # only ever our own staging folder
    return result
