"""`leash doctor RUN`: check a run directory, and with `repair` put what is wrong aside.

Checks: every shard of every table and generation is read in full with pyarrow
(its keys), `tasks.parquet` and `labels.parquet` too; no (task_id, sample_idx) is
stored twice in the generation readers see; no temp file is left over from a
killed writer; a regrade in progress is reported. Repair never deletes: damaged
shards and leftover temp files move to `<run>/quarantine/` (same relative path),
and a shard holding keys stored before it is rewritten without them (the first
copy is kept) and the original moved to quarantine. It holds every table's writer
lock meanwhile, so it refuses to run beside a writer.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from leash.store import Run

__all__ = ["Finding", "check_run", "repair_run", "run_tables"]

# What to run again once a table's damaged rows are put aside.
_REDO = {
    "samples": "run the command that made the run again (`leash sample ...` or `leash import FILE "
    "--run RUN`): it redoes only the missing samples",
    "grades": "`leash grade RUN` grades the samples left without a verdict",
    "scores": "`leash score RUN --model MODEL` scores the samples left without a score",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # damaged | temp | duplicate | pending
    path: Path
    detail: str
    table: str | None = None  # samples, grades/<g>, scores/<m>; None for run-level files


def run_tables(run: Run) -> list[str]:
    """Every sharded table of the run with a folder: samples, grades/<g>, scores/<m>."""
    tables = ["samples"] if (run.path / "samples").is_dir() else []
    for kind in ("grades", "scores"):
        folder = run.path / kind
        if folder.is_dir():
            tables += [f"{kind}/{d.name}" for d in sorted(folder.iterdir()) if d.is_dir()]
    return tables


def _read_keys(path: Path) -> tuple[list[tuple[str, int]] | None, str | None]:
    try:
        table = pq.read_table(path, columns=["task_id", "sample_idx"])
    except Exception as err:  # pyarrow raises several types for a bad file
        return None, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return list(zip(table["task_id"].to_pylist(), table["sample_idx"].to_pylist(), strict=True)), None


def check_run(run: Run) -> list[Finding]:
    """Everything wrong (or half-done) in the run; empty when it is sound."""
    findings: list[Finding] = []
    for leftover in sorted(run.path.rglob(".tmp-*.partial")):
        if "quarantine" not in leftover.relative_to(run.path).parts:
            findings.append(Finding("temp", leftover, "a temp file left by a killed writer"))
    for path in (run.tasks_path, run.labels_path):
        if path.exists():
            try:
                pq.read_metadata(path)
            except Exception as err:
                findings.append(Finding("damaged", path, f"{type(err).__name__}: {err}"))
    for table in run_tables(run):
        current = run.current_generation(table)
        for generation in run.generations(table):
            seen: dict[tuple[str, int], Path] = {}
            for shard in run.shards(table, generation, check=False):
                keys, error = _read_keys(shard)
                if keys is None:
                    findings.append(Finding("damaged", shard, error or "unreadable", table))
                    continue
                if generation != current:
                    continue
                repeated = [k for k in keys if k in seen]
                if repeated:
                    first = seen[repeated[0]]
                    findings.append(
                        Finding(
                            "duplicate",
                            shard,
                            f"{len(repeated)} keys stored before in {first.name} "
                            f"(e.g. {repeated[0][0]!r}, {repeated[0][1]})",
                            table,
                        )
                    )
                for k in keys:
                    seen.setdefault(k, shard)
        pending = run.pending_generation(table)
        if pending is not None:
            findings.append(
                Finding(
                    "pending",
                    run.table_root(table) / pending,
                    "a regrade in progress (the previous generation stays current); "
                    "run `leash grade RUN --regrade` to finish it",
                    table,
                )
            )
    return findings


def _quarantine(run: Run, path: Path) -> Path:
    target = run.path / "quarantine" / path.relative_to(run.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():
        target = target.with_name(f"{path.name}.{n}")
        n += 1
    os.replace(path, target)
    return target


def repair_run(run: Run, findings: list[Finding]) -> list[str]:
    """Put aside what `check_run` found (never deleting); returns one line per action."""
    actions: list[str] = []
    with ExitStack() as stack:
        for table in run_tables(run):
            stack.enter_context(run.lock(table))
        redo: set[str] = set()
        for f in findings:
            if f.kind in ("damaged", "temp"):
                moved = _quarantine(run, f.path)
                actions.append(f"moved {f.path.relative_to(run.path)} to {moved.relative_to(run.path)}")
                if f.kind == "damaged":
                    redo.add(f.table.split("/")[0] if f.table else "run")
        duplicates = [f for f in findings if f.kind == "duplicate"]
        for table in sorted({f.table for f in duplicates if f.table}):
            actions += _deduplicate(run, table)
            redo.discard(table.split("/")[0])
        for kind in sorted(redo):
            actions.append(
                "then "
                + _REDO.get(kind, "re-create tasks.parquet/labels.parquet with the command that made them")
            )
    return actions


def _deduplicate(run: Run, table: str) -> list[str]:
    """Keep each key's first copy (shards in time order); rewrite later shards without repeats."""
    actions = []
    seen: set[tuple[str, int]] = set()
    generation = run.current_generation(table)
    for shard in run.shards(table, generation, check=False):
        keys, _ = _read_keys(shard)
        if keys is None:
            continue
        fresh = [k not in seen for k in keys]
        seen.update(keys)
        if all(fresh):
            continue
        import pyarrow as pa

        kept = pq.read_table(shard).filter(pa.array(fresh))
        new = run.append(table, kept, generation) if kept.num_rows else None
        moved = _quarantine(run, shard)
        actions.append(
            f"{table}: {len(keys) - kept.num_rows} repeated keys of {shard.name} set aside in "
            f"{moved.relative_to(run.path)}"
            + (f"; its {kept.num_rows} other rows are in {new.name}" if new else "")
        )
    return actions
