"""The run directory: the contract between stages.

    runs/<name>/
      run.json          what produced the run (schema_version, models, parameters, counts)
      tasks.parquet     task_id, dataset, prompt, reference (JSON), verifier, meta (JSON)
      samples/          append-only Parquet shards: one row per completion
      grades/<grader>/  append-only shards: one verdict per completion
      scores/<model>/   append-only shards: log-probs and entropy under a model
      labels.parquet    manual labels from the browser, honoured by compare

A shard is written under a temporary name and renamed into place, so a crash loses
at most the shard in flight; `Run.keys` lists the (task_id, sample_idx) pairs
already stored so that a resumed stage skips them. Any table can be read as Arrow
(`Run.read`) or queried with DuckDB (`Run.connect`, with one view per table).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from leash import __version__
from leash.errors import LeashError

__all__ = [
    "GRADES",
    "LABELS",
    "SAMPLES",
    "SCHEMA_VERSION",
    "SCORES",
    "TASKS",
    "Run",
    "arrow_batches",
    "create_run",
    "open_run",
    "parquet_source",
    "provenance",
    "to_arrow",
]

SCHEMA_VERSION = 1

TASKS = pa.schema(
    [
        ("task_id", pa.string()),
        ("dataset", pa.string()),
        ("prompt", pa.string()),  # the exact text the model was given
        ("reference", pa.string()),  # JSON: gold answer, unit tests, a reasoning-gym entry
        ("verifier", pa.string()),  # name of the task's default verifier
        ("meta", pa.string()),  # JSON: the raw question and anything else
    ]
)
SAMPLES = pa.schema(
    [
        ("task_id", pa.string()),
        ("sample_idx", pa.int64()),
        ("seed", pa.int64()),
        ("text", pa.string()),
        ("n_tokens", pa.int64()),
        ("finish_reason", pa.string()),  # stop | length | null when unknown
    ]
)
# Optional samples column written by backends that know it: `logprob` (float64), the
# log-prob of the text's tokens under the sampling model at T = 1.
GRADES = pa.schema(
    [
        ("task_id", pa.string()),
        ("sample_idx", pa.int64()),
        ("correct", pa.bool_()),
        ("score", pa.float64()),
        ("answer", pa.string()),  # canonical final answer, null when none was found
        ("status", pa.string()),  # ok | no_answer | timeout | error
        ("detail", pa.string()),
    ]
)
SCORES = pa.schema(
    [
        ("task_id", pa.string()),
        ("sample_idx", pa.int64()),
        ("logprob_sum", pa.float64()),
        ("n_tokens", pa.int64()),
        ("token_entropy_mean", pa.float64()),
    ]
)
LABELS = pa.schema(
    [
        ("task_id", pa.string()),
        ("sample_idx", pa.int64()),
        ("label", pa.string()),  # e.g. hack | incorrect | correct | note
        ("note", pa.string()),
        ("created", pa.string()),
    ]
)

_SHARDED = {"samples": SAMPLES, "grades": GRADES, "scores": SCORES}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _schema_for(table: str) -> pa.Schema:
    """`samples`, `grades/<grader>` or `scores/<model>` -> the table's schema."""
    kind, _, name = table.partition("/")
    if kind not in _SHARDED or (kind == "samples") != (name == ""):
        raise ValueError(f"unknown table {table!r}: use samples, grades/<name> or scores/<name>")
    if name and not _NAME.match(name):
        raise LeashError(
            f"invalid {kind} name {name!r}: use letters, digits, '.', '_' or '-' (no slashes or spaces)"
        )
    return _SHARDED[kind]


def _conform(rows: pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    """Cast the schema's columns to their types, in order; extra columns are kept after."""
    missing = [f.name for f in schema if f.name not in rows.column_names]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}")
    columns = [rows.column(f.name).cast(f.type) for f in schema]
    extra = [name for name in rows.column_names if name not in schema.names]
    return pa.table(
        columns + [rows.column(name) for name in extra],
        names=schema.names + extra,
    )


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}.partial")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_json_atomic(data: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}.partial")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def to_arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    if hasattr(relation, "to_arrow_table"):
        return relation.to_arrow_table()
    return relation.fetch_arrow_table()  # duckdb < 1.4


def arrow_batches(relation: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    """Stream a DuckDB result as Arrow record batches of about `rows` rows."""
    if hasattr(relation, "to_arrow_reader"):
        return relation.to_arrow_reader(rows)
    return relation.fetch_record_batch(rows)  # duckdb < 1.4


def provenance() -> dict[str, Any]:
    """What produced a run: leash version and, when run from a git checkout, its revision."""
    revision = None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.returncode == 0:
            revision = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"leash_version": __version__, "git_revision": revision}


@dataclass(frozen=True)
class Run:
    """A handle on one run directory; every method reads or writes files under `path`."""

    path: Path

    # run.json ----------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.path / "run.json"

    def meta(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.meta_path.read_text())
        except json.JSONDecodeError as err:
            raise LeashError(f"{self.meta_path}: not valid JSON ({err}); fix or remove it") from err
        return data

    def update_meta(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into run.json (one level deep for dict values), atomically."""
        data = self.meta()
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        data["updated"] = _now()
        _write_json_atomic(data, self.meta_path)
        return data

    # sharded tables ----------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        _schema_for(table)
        return self.path / table

    def shards(self, table: str) -> list[Path]:
        directory = self.table_dir(table)
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.glob("*.parquet") if not p.name.startswith("."))

    def append(self, table: str, rows: pa.Table) -> Path | None:
        """Write `rows` as a new shard of `table` (temp name + rename); None if empty.

        Rows must not repeat a (task_id, sample_idx) pair among themselves; callers
        skip pairs already stored using `keys`.
        """
        schema = _schema_for(table)
        if rows.num_rows == 0:
            return None
        rows = _conform(rows, schema, f"{self.path}/{table}")
        pairs = set(zip(rows["task_id"].to_pylist(), rows["sample_idx"].to_pylist(), strict=True))
        if len(pairs) != rows.num_rows:
            raise ValueError(f"{table}: duplicate (task_id, sample_idx) pairs in one shard")
        directory = self.table_dir(table)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        _write_atomic(rows, path)
        return path

    def read(self, table: str, columns: list[str] | None = None) -> pa.Table:
        """The whole table as Arrow (an empty table with the schema when nothing is stored)."""
        schema = _schema_for(table)
        files = self.shards(table)
        if not files:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        con = duckdb.connect()
        relation = con.sql(
            f"select {select} from read_parquet($files, union_by_name=true)",
            params={"files": [str(f) for f in files]},
        )
        return to_arrow(relation)

    def keys(self, table: str) -> dict[str, np.ndarray]:
        """task_id -> sorted sample_idx values already stored in `table`."""
        files = self.shards(table)
        if not files:
            return {}
        con = duckdb.connect()
        data = to_arrow(
            con.sql(
                "select task_id, sample_idx from read_parquet($files) order by task_id, sample_idx",
                params={"files": [str(f) for f in files]},
            )
        )
        tasks = data["task_id"].to_numpy(zero_copy_only=False)
        idx = data["sample_idx"].to_numpy()
        if len(tasks) == 0:
            return {}
        starts = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]])
        ends = np.r_[starts[1:], len(tasks)]
        return {str(tasks[s]): idx[s:e] for s, e in zip(starts, ends, strict=True)}

    def names(self, kind: str) -> list[str]:
        """The graders (kind='grades') or scorer models (kind='scores') with stored shards."""
        directory = self.path / kind
        if not directory.is_dir():
            return []
        return sorted(d.name for d in directory.iterdir() if d.is_dir() and any(d.glob("*.parquet")))

    # tasks and labels --------------------------------------------------------
    @property
    def tasks_path(self) -> Path:
        return self.path / "tasks.parquet"

    def read_tasks(self) -> pa.Table:
        if not self.tasks_path.exists():
            return TASKS.empty_table()
        return pq.read_table(self.tasks_path)

    def write_tasks(self, tasks: pa.Table) -> None:
        """Add tasks not yet stored (by task_id); stored ones are kept as they are."""
        tasks = _conform(tasks, TASKS, f"{self.tasks_path}")
        ids = tasks["task_id"].to_pylist()
        if len(set(ids)) != len(ids):
            raise ValueError("tasks: duplicate task_id")
        current = self.read_tasks()
        if current.num_rows:
            stored = set(current["task_id"].to_pylist())
            keep = pa.array([t not in stored for t in ids])
            new = tasks.filter(keep)
            if new.num_rows == 0:
                return
            tasks = pa.concat_tables([current, new], promote_options="default")
        _write_atomic(tasks, self.tasks_path)

    @property
    def labels_path(self) -> Path:
        return self.path / "labels.parquet"

    def read_labels(self) -> pa.Table:
        if not self.labels_path.exists():
            return LABELS.empty_table()
        return pq.read_table(self.labels_path)

    def write_labels(self, labels: pa.Table) -> None:
        """Replace labels.parquet (small; rewritten whole, atomically)."""
        _write_atomic(_conform(labels, LABELS, str(self.labels_path)), self.labels_path)

    # DuckDB --------------------------------------------------------------------
    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with views over this run's tables.

        Views: `tasks`, `samples`, `labels`, and `grades` / `scores` holding every
        grader's / scorer's rows with a `grader` / `scorer` column.
        """
        con = duckdb.connect()
        for name, path in (("tasks", self.tasks_path), ("labels", self.labels_path)):
            if path.exists():
                con.execute(f"create view {name} as select * from read_parquet('{_sql(path)}')")
        files = self.shards("samples")
        if files:
            con.execute(f"create view samples as select * from {parquet_source(files)}")
        for kind, column in (("grades", "grader"), ("scores", "scorer")):
            parts = [
                f"select '{_sql(name)}' as {column}, * from {parquet_source(self.shards(f'{kind}/{name}'))}"
                for name in self.names(kind)
            ]
            if parts:
                con.execute(f"create view {kind} as " + " union all by name ".join(parts))
        return con


def _sql(value: object) -> str:
    return str(value).replace("'", "''")


def parquet_source(files: list[Path]) -> str:
    listed = ", ".join(f"'{_sql(f)}'" for f in files)
    return f"read_parquet([{listed}], union_by_name=true)"


def create_run(path: str | Path, meta: dict[str, Any] | None = None) -> Run:
    """Create a run directory with its run.json; an existing run is opened instead."""
    run = Run(Path(path))
    if run.meta_path.exists():
        return open_run(path)
    if run.path.exists() and not run.path.is_dir():
        raise LeashError(f"{run.path} exists and is not a directory; choose another --run")
    run.path.mkdir(parents=True, exist_ok=True)
    data = {
        "schema_version": SCHEMA_VERSION,
        "name": run.path.name,
        "created": _now(),
        "updated": _now(),
        **provenance(),
        **(meta or {}),
    }
    _write_json_atomic(data, run.meta_path)
    return run


def open_run(path: str | Path) -> Run:
    """Open an existing run; a clear LeashError when it is missing or from a newer leash."""
    run = Run(Path(path))
    if not run.meta_path.exists():
        hint = "it is not a leash run (no run.json)" if run.path.exists() else "it does not exist"
        raise LeashError(f"run {run.path}: {hint}; create it with `leash import` or `leash sample`")
    version = run.meta().get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise LeashError(
            f"run {run.path}: schema_version {version!r} is not supported by leash "
            f"{__version__} (supports <= {SCHEMA_VERSION}); upgrade leash"
        )
    return run
