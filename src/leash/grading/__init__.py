"""`leash grade RUN`: a verdict for every completion, written to grades/<verifier>/.

Verifiers (registry `VERIFIERS`): `math` (Math-Verify), `code` (unit tests in the
sandbox), `rg` (reasoning-gym's scorers, in the sandbox), `arith` (reach a target
from given numbers, parsed safely), `exact`, `choice`, `regex`. Each task names
its default verifier; `--verifier` overrides it for all. Samples are read in
batches grouped by task (so each task's distinct answers are verified once), and
each batch is appended as a shard: a crash loses at most the batch in flight, and
the same command resumes. A verifier never raises on model text: every completion
gets a status (ok, no_answer, timeout, error).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.errors import LeashError
from leash.grading import arith as _arith  # noqa: F401  (registers the verifier)
from leash.grading import code as _code  # noqa: F401
from leash.grading import lm_eval as _lm_eval  # noqa: F401
from leash.grading import math as _math  # noqa: F401
from leash.grading import rg as _rg  # noqa: F401
from leash.grading import text as _text  # noqa: F401
from leash.grading.registry import VERIFIERS, Verifier, get_verifier, register_verifier
from leash.grading.sandbox import probe
from leash.grading.verdict import STATUSES, GradeItem, Verdict
from leash.store import GRADES, Run, arrow_batches, open_run, parquet_source

__all__ = [
    "STATUSES",
    "VERIFIERS",
    "GradeItem",
    "GradeSummary",
    "Verdict",
    "Verifier",
    "get_verifier",
    "grade_run",
    "register_verifier",
]

SANDBOXED = {"code", "rg"}  # verifiers that execute model output
Progress = Callable[[int, int, dict[str, int]], None]  # (graded, total, counts by status)


@dataclass
class GradeSummary:
    run: Path
    graded: int
    total: int
    seconds: float
    by_verifier: dict[str, dict[str, int]] = field(default_factory=dict)
    correct: int = 0
    sandbox: str | None = None


def _tasks(run: Run) -> dict[str, tuple[str | None, dict[str, Any] | None]]:
    table = run.read_tasks()
    out = {}
    for row in table.to_pylist():
        try:
            reference = json.loads(row["reference"]) if row["reference"] else None
        except json.JSONDecodeError:
            reference = None
        out[row["task_id"]] = (row["verifier"], reference)
    return out


def _pending(run: Run, task_ids: list[str], verifier: str) -> Any:
    """A DuckDB reader over the samples of `task_ids` not yet graded by `verifier`, by task."""
    import duckdb

    con = duckdb.connect()
    con.register("wanted", pa.table({"task_id": task_ids}))
    done = run.shards(f"grades/{verifier}")
    skip = f"anti join {parquet_source(done)} g using (task_id, sample_idx)" if done else ""
    query = (
        f"select s.task_id, s.sample_idx, s.text from {parquet_source(run.shards('samples'))} s "
        f"semi join wanted w using (task_id) {skip} order by s.task_id, s.sample_idx"
    )
    count = con.sql(f"select count(*) from ({query})").fetchall()[0][0]
    return con, query, int(count)


def grade_run(
    run_dir: str | Path,
    verifier: str | None = None,
    *,
    workers: int = 2,
    timeout: float = 10.0,
    strict: bool = False,
    batch_rows: int = 4096,
    progress: Progress | None = None,
) -> GradeSummary:
    """Grade every stored completion of the run not yet graded; returns counts by status."""
    run = open_run(run_dir)
    if not run.shards("samples"):
        raise LeashError(f"run {run.path} has no samples; run `leash sample` or `leash import` first")
    if verifier is not None and verifier not in VERIFIERS:
        raise LeashError(f"unknown verifier {verifier!r}; choose one of: {', '.join(sorted(VERIFIERS))}")
    tasks = _tasks(run)
    stored_ids = set(run.keys("samples"))
    missing = sorted(stored_ids - set(tasks))
    by_verifier: dict[str, list[str]] = {}
    for task_id in sorted(stored_ids):
        name = verifier or (tasks.get(task_id, (None, None))[0])
        if name is None:
            why = "has no task definition" if task_id in missing else "names no verifier"
            raise LeashError(
                f"task {task_id!r} {why}; pass --verifier NAME (one of {', '.join(sorted(VERIFIERS))})"
            )
        if name not in VERIFIERS:
            raise LeashError(f"task {task_id!r} names unknown verifier {name!r}; pass --verifier")
        by_verifier.setdefault(name, []).append(task_id)

    caps = probe()
    sandbox_level = caps.level if SANDBOXED & set(by_verifier) else None
    if sandbox_level is not None and not caps.full and strict:
        raise LeashError(
            f"--strict: the sandbox here is only {caps.level!r} ({'; '.join(caps.notes)}); see `leash doctor`"
        )

    start = time.perf_counter()
    summary = GradeSummary(run.path, 0, 0, 0.0, sandbox=sandbox_level)
    plans = [(name, *_pending(run, ids, name)) for name, ids in by_verifier.items()]
    total = sum(count for *_, count in plans)
    summary.total = total
    counts: Counter[str] = Counter()
    for name, con, query, _count in plans:
        engine = get_verifier(name, workers=workers, timeout=timeout)
        per: Counter[str] = Counter()
        try:
            for batch in arrow_batches(con.sql(query), batch_rows):
                rows = batch.to_pylist()
                items = [
                    GradeItem(r["task_id"], r["text"] or "", tasks.get(r["task_id"], (None, None))[1])
                    for r in rows
                ]
                verdicts = engine.grade(items)
                run.append(
                    f"grades/{name}",
                    pa.Table.from_pylist(
                        [v.row(r["task_id"], r["sample_idx"]) for v, r in zip(verdicts, rows, strict=True)],
                        schema=GRADES,
                    ),
                )
                for v in verdicts:
                    per[v.status] += 1
                    counts[v.status] += 1
                    summary.correct += v.correct
                summary.graded += len(rows)
                if progress is not None:
                    progress(summary.graded, total, dict(counts))
        finally:
            engine.close()
        summary.by_verifier[name] = dict(per)
    summary.seconds = time.perf_counter() - start
    grading = run.meta().get("grading", {})
    for name in by_verifier:
        previous = grading.get(name, {})
        grading[name] = {
            "timeout_seconds": timeout,
            "sandbox": caps.level if name in SANDBOXED else "not needed (no code runs)",
            "unsandboxed": name in SANDBOXED and caps.level == "process",
            "graded": previous.get("graded", 0) + sum(summary.by_verifier.get(name, {}).values()),
        }
    run.update_meta({"grading": grading, "graders": run.names("grades")})
    return summary
