"""`leash grade RUN`: a verdict for every completion, written to grades/<verifier>/.

Verifiers (registry `VERIFIERS`): `math` (Math-Verify), `code` (unit tests in the
sandbox), `rg` (reasoning-gym's scorers, in the sandbox), `arith` (reach a target
from given numbers, parsed safely), `exact`, `choice`, `regex`. Each task names
its default verifier; `--verifier` overrides it for all. Samples are read in
batches grouped by task (so each task's distinct answers are verified once), and
each batch is appended as a shard: a crash loses at most the batch in flight, and
the same command resumes. A verifier never raises on model text: every completion
gets a status (ok, no_answer, timeout, error).

One grader writes a grades table at a time (`Run.lock`). `regrade` redoes verdicts
(all, or those with the given statuses) as a new generation of grades/<verifier>/:
the verdicts kept are copied into it first, the rest are graded again, and it
becomes the one readers see only once complete; a killed regrade leaves the old
generation current, and the next `grade` finishes it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.cluster import RaySpec
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
    "RaySpec",
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
    held: dict[str, int] = field(default_factory=dict)  # timeout/error verdicts the run now holds
    notes: list[str] = field(default_factory=list)


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


def _pending(run: Run, task_ids: list[str], verifier: str, generation: str) -> Any:
    """A DuckDB reader over the samples of `task_ids` without a verdict in `generation`, by task."""
    import duckdb

    con = duckdb.connect()
    con.register("wanted", pa.table({"task_id": task_ids}))
    done = run.shards(f"grades/{verifier}", generation)
    skip = f"anti join {parquet_source(done)} g using (task_id, sample_idx)" if done else ""
    query = (
        f"select s.task_id, s.sample_idx, s.text from {parquet_source(run.shards('samples'))} s "
        f"semi join wanted w using (task_id) {skip} order by s.task_id, s.sample_idx"
    )
    count = con.sql(f"select count(*) from ({query})").fetchall()[0][0]
    return con, query, int(count)


def _check_gold(name: str, task_ids: list[str], tasks: dict[str, tuple[str | None, Any]]) -> None:
    """`math` compares with a gold answer: refuse, before writing, tasks that have none."""
    if name != "math":
        return
    bare = [t for t in task_ids if (tasks.get(t, (None, None))[1] or {}).get("answer") in (None, "", [])]
    if bare:
        shown = ", ".join(repr(t) for t in bare[:5]) + (" ..." if len(bare) > 5 else "")
        raise LeashError(
            f"verifier math needs a gold answer, and {len(bare)} of {len(task_ids)} tasks have none "
            f"({shown}); give them an `answer` (leash import --tasks FILE) or choose another --verifier"
        )


def _generation(run: Run, table: str, regrade: bool, statuses: list[str] | None) -> tuple[str, str | None]:
    """(generation to write, note): the current one, a regrade in progress, or a new regrade."""
    pending = run.pending_generation(table)
    if pending is not None:
        recorded = run.generation_info(table, pending).get("statuses")
        if regrade and statuses != recorded:
            shown = ",".join(recorded) if recorded else "(all)"
            raise LeashError(
                f"run {run.path}: a regrade of {table} with --status {shown} is in progress; "
                f"finish it first (`leash grade {run.path} --regrade"
                + (f" --status {shown}`)" if recorded else "`)")
            )
        return pending, f"finishing the regrade of {table} begun earlier ({pending})"
    if regrade and run.shards(table):
        current = run.current_generation(table)
        return run.new_generation(table, {"statuses": statuses, "from": current or "(first)"}), None
    return run.current_generation(table), None


def _carry(run: Run, table: str, generation: str, statuses: list[str] | None) -> None:
    """Copy into a regrade's `generation` the current verdicts whose status is not redone."""
    import duckdb

    current = run.current_generation(table)
    if statuses is None or generation == current:
        return
    old = run.shards(table, current)
    if not old:
        return
    have = run.shards(table, generation)
    skip = f"anti join {parquet_source(have)} n using (task_id, sample_idx)" if have else ""
    con = duckdb.connect()
    con.register("redo", pa.table({"status": statuses}))
    query = f"select o.* from {parquet_source(old)} o {skip} where o.status not in (select status from redo)"
    for batch in arrow_batches(con.sql(query), 1 << 20):
        run.append(table, pa.Table.from_batches([batch]), generation)


def _held(run: Run, names: list[str]) -> dict[str, int]:
    """Verdicts with status timeout or error in the generations readers now see."""
    import duckdb

    held: Counter[str] = Counter()
    con = duckdb.connect()
    for name in names:
        files = run.shards(f"grades/{name}")
        if files:
            rows = con.sql(
                f"select status, count(*) from {parquet_source(files)} "
                "where status in ('timeout', 'error') group by status"
            ).fetchall()
            held.update({status: int(n) for status, n in rows})
    return dict(held)


def grade_run(
    run_dir: str | Path,
    verifier: str | None = None,
    *,
    workers: int = 2,
    timeout: float = 10.0,
    strict: bool = False,
    regrade: bool = False,
    statuses: list[str] | None = None,
    batch_rows: int = 4096,
    progress: Progress | None = None,
    executor: str = "local",
    ray: RaySpec | None = None,
) -> GradeSummary:
    """Grade every stored completion of the run not yet graded; returns counts by status.

    `regrade`: grade again every verdict (or those whose status is in `statuses`)
    into a new generation that supersedes the old one once complete. `executor`:
    `local`, or `ray` (each batch graded by one of `ray.replicas` Ray actors, each with
    its own `workers` processes or sandboxes and the same hard `timeout`; docs/scale.md).
    """
    if executor not in ("local", "ray"):
        raise LeashError(f"--executor {executor}: choose local or ray")
    run = open_run(run_dir)
    if not run.shards("samples"):
        raise LeashError(f"run {run.path} has no samples; run `leash sample` or `leash import` first")
    if verifier is not None and verifier not in VERIFIERS:
        raise LeashError(f"unknown verifier {verifier!r}; choose one of: {', '.join(sorted(VERIFIERS))}")
    if statuses is not None:
        unknown = sorted(set(statuses) - set(STATUSES))
        if unknown or not statuses:
            raise LeashError(f"--status {','.join(statuses)}: use a comma list of {', '.join(STATUSES)}")
        if not regrade:
            raise LeashError("--status chooses the verdicts to redo: use it with --regrade")
        statuses = sorted(set(statuses))
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
    for name, ids in by_verifier.items():
        _check_gold(name, ids, tasks)

    caps = probe()
    sandbox_level = caps.level if SANDBOXED & set(by_verifier) else None
    if sandbox_level is not None and not caps.full and strict:
        raise LeashError(
            f"--strict: the sandbox here is only {caps.level!r} ({'; '.join(caps.notes)}); see `leash doctor`"
        )

    cluster = None
    if executor == "ray":  # before anything is written: no Ray or a bad --address is one line
        from leash.cluster import connect

        spec = ray or RaySpec()
        cluster = (connect(spec), spec)
    summary = GradeSummary(run.path, 0, 0, 0.0, sandbox=sandbox_level)
    with ExitStack() as locks:
        for name in by_verifier:  # one writer per grades table, held to the end
            locks.enter_context(run.lock(f"grades/{name}"))
        _grade_locked(
            run, by_verifier, tasks, summary, regrade, statuses, workers, timeout, batch_rows, progress,
            cluster,
        )  # fmt: skip
    grading = run.meta().get("grading", {})
    for name in by_verifier:
        previous = grading.get(name, {})
        grading[name] = {
            "timeout_seconds": timeout,
            "sandbox": caps.level if name in SANDBOXED else "not needed (no code runs)",
            "unsandboxed": name in SANDBOXED and caps.level == "process",
            "graded": previous.get("graded", 0) + sum(summary.by_verifier.get(name, {}).values()),
            "generation": run.current_generation(f"grades/{name}") or "(first)",
        }
    run.update_meta({"grading": grading, "graders": run.names("grades")})
    summary.held = _held(run, list(by_verifier))
    return summary


def _grade_locked(
    run: Run,
    by_verifier: dict[str, list[str]],
    tasks: dict[str, tuple[str | None, dict[str, Any] | None]],
    summary: GradeSummary,
    regrade: bool,
    statuses: list[str] | None,
    workers: int,
    timeout: float,
    batch_rows: int,
    progress: Progress | None,
    cluster: tuple[Any, Any] | None = None,
) -> None:
    """Plan and grade every verifier's pending samples; the caller holds the grades locks.

    `cluster`: (ray, RaySpec) to grade the batches on Ray replicas (`grading/ray.py`).
    """
    start = time.perf_counter()
    plans = []
    for name, ids in by_verifier.items():
        table = f"grades/{name}"
        generation, note = _generation(run, table, regrade, statuses)
        if note:
            summary.notes.append(note)
        run.check_unique(table, generation)
        _carry(run, table, generation, run.generation_info(table, generation).get("statuses"))
        plans.append((name, generation, *_pending(run, ids, name, generation)))
    total = sum(count for *_, count in plans)
    summary.total = total
    counts: Counter[str] = Counter()
    for name, generation, con, query, _count in plans:
        per: Counter[str] = Counter()
        if _count and cluster is not None:
            from leash.grading.ray import grade_on_ray

            def tally(statuses: dict[str, int], correct: int, rows: int, per: Counter[str] = per) -> None:
                per.update(statuses)
                counts.update(statuses)
                summary.correct += correct
                summary.graded += rows
                if progress is not None:
                    progress(summary.graded, total, dict(counts))

            units = (
                [{**r, "reference": tasks.get(r["task_id"], (None, None))[1]} for r in batch.to_pylist()]
                for batch in arrow_batches(con.sql(query), batch_rows)
            )
            note = grade_on_ray(cluster, run, name, generation, units, workers, timeout, tally)
            if note:
                summary.notes.append(note)
        elif _count:
            engine = get_verifier(name, workers=workers, timeout=timeout)
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
                            [
                                v.row(r["task_id"], r["sample_idx"])
                                for v, r in zip(verdicts, rows, strict=True)
                            ],
                            schema=GRADES,
                        ),
                        generation,
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
        if generation != run.current_generation(f"grades/{name}"):
            run.commit_generation(f"grades/{name}", generation)  # complete: readers now see it
        summary.by_verifier[name] = dict(per)
    summary.seconds = time.perf_counter() - start
