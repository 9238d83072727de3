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

What a run guarantees (docs/architecture.md, "What a run guarantees"):
- one writer per table: `Run.append` needs `Run.lock(table)`, an fcntl lock on
  `.locks/<table>.lock` the kernel releases when the process dies; a second writer
  is refused in one line naming the holder;
- a key is stored once: every reader raises a LeashError on a duplicated
  (task_id, sample_idx), pointing to `leash doctor RUN --repair`;
- generations: `grades/<g>/` may hold `gen-NNNN/` folders; the file `CURRENT` names
  the one readers see (none: the shards at the top). A new generation becomes
  current only once complete (`commit_generation`), the old shards are kept;
- a damaged shard (zero bytes, truncated) is named in one line before DuckDB reads it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
    "write_shard",
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
        ("label", pa.string()),  # ok | lucky | bad-grade | note (leash serve); hack | incorrect | correct
        ("note", pa.string()),
        ("created", pa.string()),
    ]
)

_SHARDED = {"samples": SAMPLES, "grades": GRADES, "scores": SCORES}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GENERATION = re.compile(r"^gen-(\d{4,})$")
_MAGIC = b"PAR1"  # a Parquet file starts and ends with it
# Locks this process holds: (resolved run path, table) -> open file descriptor.
_HELD: dict[tuple[Path, str], int] = {}


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


def _command() -> str:
    """The command line of this process, as the user typed it (for lock holders)."""
    args = sys.argv[1:]
    head = "leash" if sys.argv and ("leash" in sys.argv[0] or sys.argv[0] == "-m") else sys.argv[0]
    return " ".join([head, *args])[:300]


@contextmanager
def _flock(path: Path, blocking: bool) -> Iterator[int]:
    """An exclusive fcntl lock on `path` (created); raises BlockingIOError when busy and not blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        yield fd
    finally:
        os.close(fd)  # closing the descriptor releases the lock (as does the process dying)


def shard_damage(path: Path) -> str | None:
    """Why `path` is not a whole Parquet file (zero bytes, truncated), or None when it looks whole.

    Cheap: the first and last 4 bytes only; `leash doctor` reads every shard in full.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return "zero bytes"
        with open(path, "rb") as handle:
            head = handle.read(4)
            handle.seek(max(0, size - 4))
            tail = handle.read(4)
    except OSError as err:
        return f"unreadable: {err.strerror}"
    if size < 12 or head != _MAGIC or tail != _MAGIC:
        return f"truncated or not Parquet ({size} bytes, no Parquet footer)"
    return None


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}.partial")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_shard(rows: pa.Table, table: str, path: Path) -> Path:
    """Write `rows` of `table` to `path` atomically (temp name, fsync, rename), for a staged shard.

    Rows are cast to the table's schema (extra columns kept) and must not repeat a key.
    The folder must exist: a worker never creates the run's folders.
    """
    rows = _conform(rows, _schema_for(table), str(path))
    pairs = set(zip(rows["task_id"].to_pylist(), rows["sample_idx"].to_pylist(), strict=True))
    if len(pairs) != rows.num_rows:
        raise ValueError(f"{table}: duplicate (task_id, sample_idx) pairs in one shard")
    _write_atomic(rows, path)
    return path


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
            data = json.loads(self.meta_path.read_text())
        except json.JSONDecodeError as err:
            raise LeashError(f"{self.meta_path}: not valid JSON ({err}); fix or remove it") from err
        except UnicodeDecodeError as err:
            raise LeashError(f"{self.meta_path}: not UTF-8 text ({err.reason}); fix or remove it") from err
        if not isinstance(data, dict):
            raise LeashError(
                f"{self.meta_path}: a JSON {type(data).__name__}, not an object; "
                "run.json must be an object ({...}): fix or remove it"
            )
        return data

    def update_meta(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into run.json (one level deep for dict values), atomically.

        Read, merge and write happen under a short lock, so two stages finishing at
        once both keep their changes.
        """
        with _flock(self.path / ".locks" / "run.json.lock", blocking=True):
            data = self.meta()
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(data.get(key), dict):
                    data[key] = {**data[key], **value}
                else:
                    data[key] = value
            data["updated"] = _now()
            _write_json_atomic(data, self.meta_path)
        return data

    # locks ---------------------------------------------------------------------
    def lock_path(self, table: str) -> Path:
        _schema_for(table)
        return self.path / ".locks" / f"{table.replace('/', '--')}.lock"

    def holds(self, table: str) -> bool:
        """Whether this process holds the writer lock of `table`."""
        return (self.path.resolve(), table) in _HELD

    @contextmanager
    def lock(self, table: str) -> Iterator[None]:
        """Hold the one-writer lock of `table` (samples, grades/<g>, scores/<m>) while writing.

        An fcntl lock on `.locks/<table>.lock`: the kernel releases it when the
        process ends, however it ends. Re-entrant within a process. A second writer
        is refused with a LeashError naming the holder's pid and command.
        """
        key = (self.path.resolve(), table)
        if key in _HELD:
            yield
            return
        path = self.lock_path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0))
            os.close(fd)
            raise LeashError(
                f"run {self.path}: {table} is being written by {holder}; wait for it to finish "
                "(or stop it), then run this command again"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "command": _command(), "since": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        _HELD[key] = fd
        try:
            yield
        finally:
            del _HELD[key]
            os.close(fd)

    def busy(self) -> list[str]:
        """Tables another process is writing right now (their lock is held)."""
        directory = self.path / ".locks"
        out = []
        for path in sorted(directory.glob("*.lock")) if directory.is_dir() else []:
            table = path.stem.replace("--", "/")
            if path.name == "run.json.lock" or self.holds(table):
                continue
            try:
                with _flock(path, blocking=False):
                    pass
            except BlockingIOError:
                out.append(table)
        return out

    # sharded tables and their generations -----------------------------------
    def table_root(self, table: str) -> Path:
        """The folder of `table`; its generations (if any) are `gen-NNNN/` inside."""
        _schema_for(table)
        return self.path / table

    def generations(self, table: str) -> list[str]:
        """Generation folders of `table`, oldest first ("" is the shards at the top)."""
        root = self.table_root(table)
        if not root.is_dir():
            return [""]
        found = [d.name for d in root.iterdir() if d.is_dir() and _GENERATION.match(d.name)]
        return ["", *sorted(found, key=lambda name: int(name[4:]))]

    def current_generation(self, table: str) -> str:
        """The generation readers see: the one `CURRENT` names, else "" (the top folder)."""
        marker = self.table_root(table) / "CURRENT"
        if not marker.exists():
            return ""
        name = marker.read_text().strip()
        if name and (not _GENERATION.match(name) or not (marker.parent / name).is_dir()):
            raise LeashError(
                f"{marker} names {name!r}, not a generation folder beside it; "
                f"write one of {self.generations(table)[1:]} into it (or remove it for the first)"
            )
        return name

    def pending_generation(self, table: str) -> str | None:
        """A generation begun after the current one and not yet complete, else None."""
        names = self.generations(table)
        current = names.index(self.current_generation(table))
        return names[-1] if len(names) - 1 > current else None

    def new_generation(self, table: str, info: dict[str, Any]) -> str:
        """Begin the next generation of `table` (empty, not current); `info` goes to generation.json."""
        self._require_lock(table)
        last = self.generations(table)[-1]
        name = f"gen-{(int(last[4:]) if last else 0) + 1:04d}"
        directory = self.table_root(table) / name
        directory.mkdir(parents=True)
        _write_json_atomic({**info, "started": _now()}, directory / "generation.json")
        return name

    def generation_info(self, table: str, generation: str) -> dict[str, Any]:
        path = self.table_root(table) / generation / "generation.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def commit_generation(self, table: str, generation: str) -> None:
        """Make a complete `generation` the one readers see (one atomic rename)."""
        self._require_lock(table)
        root = self.table_root(table)
        tmp = root / f".tmp-{uuid.uuid4().hex}-CURRENT.partial"
        tmp.write_text(generation + "\n")
        os.replace(tmp, root / "CURRENT")

    def table_dir(self, table: str, generation: str | None = None) -> Path:
        """Where the shards of `generation` (default: the current one) live."""
        gen = self.current_generation(table) if generation is None else generation
        return self.table_root(table) / gen if gen else self.table_root(table)

    def shards(self, table: str, generation: str | None = None, *, check: bool = True) -> list[Path]:
        """The shards of the current generation (or `generation`), oldest first.

        With `check`, a damaged shard (zero bytes, truncated) is a LeashError naming it.
        """
        directory = self.table_dir(table, generation)
        if not directory.is_dir():
            return []
        files = sorted(p for p in directory.glob("*.parquet") if not p.name.startswith("."))
        if check:
            for path in files:
                why = shard_damage(path)
                if why is not None:
                    raise LeashError(
                        f"shard {path} is damaged ({why}); run `leash doctor {self.path} --repair` "
                        "to move it to quarantine/, then rerun the command that wrote it to redo its rows"
                    )
        return files

    def _require_lock(self, table: str) -> None:
        if not self.holds(table):
            raise RuntimeError(f"{table}: take `with run.lock({table!r}):` before writing it")

    def append(self, table: str, rows: pa.Table, generation: str | None = None) -> Path | None:
        """Write `rows` as a new shard of `table` (temp name + rename); None if empty.

        The caller must hold `lock(table)` (taken before reading `keys`, so that no
        other writer adds the same keys in between). Rows must not repeat a
        (task_id, sample_idx) pair among themselves. `generation`: default the
        current one.
        """
        schema = _schema_for(table)
        self._require_lock(table)
        if rows.num_rows == 0:
            return None
        rows = _conform(rows, schema, f"{self.path}/{table}")
        pairs = set(zip(rows["task_id"].to_pylist(), rows["sample_idx"].to_pylist(), strict=True))
        if len(pairs) != rows.num_rows:
            raise ValueError(f"{table}: duplicate (task_id, sample_idx) pairs in one shard")
        directory = self.table_dir(table, generation)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        _write_atomic(rows, path)
        return path

    # shards written by other processes (Ray workers) ----------------------------
    def staging_dir(self, table: str, job: str) -> Path:
        """Where the workers of one job write `table`'s shards before the lock holder commits them."""
        _schema_for(table)
        return self.path / ".staging" / f"{table.replace('/', '--')}-{job}"

    def clear_staging(self, table: str) -> list[Path]:
        """Remove the staging folders of `table` (jobs whose driver died); needs the lock.

        Holding the lock means no other job of this table is alive, so what they staged and
        never committed is redone; leash created these folders (nothing else is deleted).
        """
        import shutil

        self._require_lock(table)
        root = self.path / ".staging"
        prefix = f"{table.replace('/', '--')}-"
        stale = sorted(d for d in root.iterdir() if d.name.startswith(prefix)) if root.is_dir() else []
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            root.rmdir()  # only when empty: another table's job may be staging there
        except OSError:
            pass
        return stale

    def commit_shard(self, table: str, staged: Path, generation: str | None = None) -> Path:
        """Move a whole shard a worker staged into `table` (one atomic rename); needs the lock.

        The caller commits each work unit once, so no key can be committed twice.
        """
        self._require_lock(table)
        why = shard_damage(staged)
        if why is not None:
            raise LeashError(f"staged shard {staged} is damaged ({why}); run the command again")
        directory = self.table_dir(table, generation)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        os.replace(staged, path)
        return path

    def check_unique(self, table: str, generation: str | None = None) -> None:
        """Raise a LeashError when a (task_id, sample_idx) is stored more than once."""
        files = self.shards(table, generation)
        if len(files) < 2:
            return  # one shard never repeats a key (`append` refuses it)
        con = duckdb.connect()
        rows = con.sql(
            "select task_id, sample_idx, count(*) as n "
            "from read_parquet($files) group by task_id, sample_idx having count(*) > 1 "
            "order by task_id, sample_idx limit 1",  # the first duplicate, the same on every run
            params={"files": [str(f) for f in files]},
        ).fetchall()
        if rows:
            raise self.duplicate_error(table, rows[0][0], rows[0][1], rows[0][2])

    def duplicate_error(self, table: str, task_id: str, sample_idx: int, count: int) -> LeashError:
        return LeashError(
            f"run {self.path}: {table} stores (task_id {task_id!r}, sample_idx {sample_idx}) {count} times "
            f"(two writers at once?); a key counts once: run `leash doctor {self.path} --repair` "
            "to keep the first copy and move the rest to quarantine/"
        )

    def read(self, table: str, columns: list[str] | None = None) -> pa.Table:
        """The whole table as Arrow (an empty table with the schema when nothing is stored)."""
        schema = _schema_for(table)
        files = self.shards(table)
        if not files:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        self.check_unique(table)
        select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        con = duckdb.connect()
        relation = con.sql(
            f"select {select} from read_parquet($files, union_by_name=true)",
            params={"files": [str(f) for f in files]},
        )
        return to_arrow(relation)

    def keys(self, table: str, generation: str | None = None) -> dict[str, np.ndarray]:
        """task_id -> sorted sample_idx values already stored in `table` (a duplicate is an error)."""
        files = self.shards(table, generation)
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
        same = (tasks[1:] == tasks[:-1]) & (idx[1:] == idx[:-1])
        if same.any():
            first = int(np.flatnonzero(same)[0])
            count = int(((tasks == tasks[first]) & (idx == idx[first])).sum())
            raise self.duplicate_error(table, str(tasks[first]), int(idx[first]), count)
        starts = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]])
        ends = np.r_[starts[1:], len(tasks)]
        return {str(tasks[s]): idx[s:e] for s, e in zip(starts, ends, strict=True)}

    def names(self, kind: str) -> list[str]:
        """The graders (kind='grades') or scorer models (kind='scores') with stored shards."""
        directory = self.path / kind
        if not directory.is_dir():
            return []
        return sorted(
            d.name
            for d in directory.iterdir()
            if d.is_dir() and _NAME.match(d.name) and self.shards(f"{kind}/{d.name}", check=False)
        )

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
        with _flock(self.path / ".locks" / "tasks.lock", blocking=True):
            self._write_tasks(tasks)

    def _write_tasks(self, tasks: pa.Table) -> None:
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
        # One open file: a writer's rename between pyarrow's own opens would mix two files.
        try:
            with open(self.labels_path, "rb") as handle:
                return pq.read_table(handle)
        except FileNotFoundError:
            return LABELS.empty_table()

    def write_labels(self, labels: pa.Table) -> None:
        """Replace labels.parquet (small; rewritten whole, atomically)."""
        with _flock(self.path / ".locks" / "labels.lock", blocking=True):
            _write_atomic(_conform(labels, LABELS, str(self.labels_path)), self.labels_path)

    def add_labels(self, rows: pa.Table) -> None:
        """Append `rows` to labels.parquet: read, extend and rewrite atomically under the labels
        lock, so two writers at once (two browser tabs) both keep their labels; a later row
        supersedes an earlier one for the same sample. Extra columns are kept (null where absent)."""
        with _flock(self.path / ".locks" / "labels.lock", blocking=True):
            new = _conform(rows, LABELS, str(self.labels_path))
            table = pa.concat_tables([self.read_labels(), new], promote_options="default")
            _write_atomic(table, self.labels_path)

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
            self.check_unique("samples")
            con.execute(f"create view samples as select * from {parquet_source(files)}")
        for kind, column in (("grades", "grader"), ("scores", "scorer")):
            parts = []
            for name in self.names(kind):
                self.check_unique(f"{kind}/{name}")
                source = parquet_source(self.shards(f"{kind}/{name}"))
                parts.append(f"select '{_sql(name)}' as {column}, * from {source}")
            if parts:
                con.execute(f"create view {kind} as " + " union all by name ".join(parts))
        return con


def _holder(raw: bytes) -> str:
    """'pid 123 (`leash sample ...`, since ...)' from a lock file's contents."""
    try:
        info = json.loads(raw.decode())
        return f"pid {info['pid']} (`{info['command']}`, since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


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
    # Linked into place, never replaced: of two commands creating one run, the second opens it.
    tmp = run.path / f".tmp-{uuid.uuid4().hex}-run.json.partial"
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.link(tmp, run.meta_path)
    except FileExistsError:
        return open_run(path)
    finally:
        tmp.unlink(missing_ok=True)
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
