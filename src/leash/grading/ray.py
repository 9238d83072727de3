"""`leash grade --executor ray`: each batch of samples graded by one of R Ray actors.

An actor holds the verifier exactly as a local `grade` does (its worker processes
or sandboxed zygotes, the same hard time limit), on whatever node it runs; the
sandbox level is that node's own (`leash doctor` there). Each batch becomes one
staged grades shard that the driver commits (`leash.cluster.run_units`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from leash.cluster import run_units
from leash.grading.registry import get_verifier
from leash.grading.verdict import GradeItem
from leash.store import GRADES, Run

__all__ = ["GradeUnits", "grade_on_ray"]


class GradeUnits:
    """Worker side: one verifier; a unit is a list of {task_id, sample_idx, text, reference}."""

    def __init__(self, name: str, workers: int, timeout: float) -> None:
        import leash.grading  # noqa: F401  (registers the verifiers)

        self.verifier = get_verifier(name, workers=workers, timeout=timeout)

    def process(self, rows: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, Any]]:
        items = [GradeItem(r["task_id"], r["text"] or "", r["reference"]) for r in rows]
        verdicts = self.verifier.grade(items)
        table = pa.Table.from_pylist(
            [v.row(r["task_id"], r["sample_idx"]) for v, r in zip(verdicts, rows, strict=True)],
            schema=GRADES,
        )
        statuses = Counter(v.status for v in verdicts)
        return table, {"statuses": dict(statuses), "correct": sum(bool(v.correct) for v in verdicts)}

    def close(self) -> None:
        self.verifier.close()


def grade_on_ray(
    cluster: tuple[Any, Any],
    run: Run,
    name: str,
    generation: str,
    units: Iterable[list[dict[str, Any]]],
    workers: int,
    timeout: float,
    tally: Callable[[dict[str, int], int, int], None],
) -> str | None:
    """Grade every unit into `generation` of grades/<name>; returns a note on retried units."""
    ray, spec = cluster

    def on_commit(result: dict[str, Any]) -> None:
        tally(result["stats"]["statuses"], result["stats"]["correct"], result["rows"])

    done = run_units(
        ray, run, f"grades/{name}", units, "leash.grading.ray:GradeUnits",
        {"name": name, "workers": workers, "timeout": timeout}, spec, on_commit, generation,
    )  # fmt: skip
    return done.note()
