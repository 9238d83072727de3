"""`leash score --executor ray`: each batch of samples scored by one of R Ray actors.

An actor holds the scorer a local `score` would build (hf, vllm or openai), with
`--gpus-per-replica` GPUs; each batch becomes one staged scores shard that the
driver commits (`leash.cluster.run_units`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from leash.cluster import run_units
from leash.store import Run

__all__ = ["ScoreUnits", "score_on_ray"]


class ScoreUnits:
    """Worker side: one scorer; a unit is a list of {task_id, sample_idx, text, prompt}."""

    def __init__(
        self, backend: str, model: str, temperature: float, device: str | None, dtype: str,
        options: dict[str, Any], batch_size: int,
    ) -> None:  # fmt: skip
        from leash.scoring import _scorer

        self.scorer = _scorer(backend, model, temperature, device, dtype, options)
        self.temperature, self.batch_size = temperature, batch_size

    def process(self, rows: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, Any]]:
        from leash.scoring import _SCORE_ROW, score_rows, tally

        out = score_rows(self.scorer, rows, self.batch_size, self.temperature)
        return pa.Table.from_pylist(out).cast(_SCORE_ROW), {**tally(out), "entropy": self.scorer.entropy}

    def close(self) -> None:
        self.scorer.close()


def score_on_ray(
    cluster: tuple[Any, Any],
    run: Run,
    slug: str,
    units: Iterable[list[dict[str, Any]]],
    options: dict[str, Any],
    batch_size: int,
    total: int,
    progress: Callable[[int, int, int], None] | None,
) -> tuple[dict[str, int], str]:
    """Score every unit into scores/<slug>; returns the counts and what the entropy column holds."""
    ray, spec = cluster
    counts = {"scored": 0, "tokens": 0, "truncated": 0, "empty": 0}
    entropy = {"value": "full vocabulary" if options["backend"] == "hf" else "unknown"}

    def on_commit(result: dict[str, Any]) -> None:
        for key in counts:
            counts[key] += result["stats"][key]
        entropy["value"] = result["stats"]["entropy"]
        if progress is not None:
            progress(counts["scored"], total, counts["tokens"])

    run_units(
        ray, run, f"scores/{slug}", units, "leash.scoring.ray:ScoreUnits",
        {**options, "batch_size": batch_size}, spec, on_commit,
    )  # fmt: skip
    return counts, entropy["value"]
