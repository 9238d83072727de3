"""Sampling parameters, per-sample seeds and the sampler that turns logits into tokens.

Every sample has its own seed, derived from (run seed, task_id, sample_idx); its
uniform draws come from a counter-based generator (Philox) keyed by that seed, and
each token is drawn by inverting the CDF of the (temperature, top-k, top-p)
distribution at the next draw. A sample's text therefore depends on its seed and
the model alone, not on which other samples shared its batch, so a resumed run
reproduces an uninterrupted one.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["DISTRIBUTION_FIELDS", "SamplingParams", "sample_seed", "uniforms"]


@dataclass(frozen=True)
class SamplingParams:
    """What changes the distribution of completions (and the seed, which does not)."""

    temperature: float = 0.6  # Yue et al. and the Invisible Leash sample at 0.6
    top_p: float = 0.95  # ... with nucleus 0.95
    top_k: int | None = None  # None: no top-k cut
    max_tokens: int = 1024  # new tokens per completion
    stop: tuple[str, ...] = field(default_factory=tuple)  # stop strings, not included in the text
    seed: int = 0  # run seed; each sample's seed derives from it

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


# Fields whose change against run.json makes new samples come from another distribution.
DISTRIBUTION_FIELDS = ("temperature", "top_p", "top_k", "max_tokens", "stop")


def sample_seed(run_seed: int, task_id: str, sample_idx: int) -> int:
    """A 63-bit seed from (run seed, task_id, sample_idx), stable across machines and runs."""
    digest = hashlib.blake2b(f"{run_seed}\x00{task_id}\x00{sample_idx}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def uniforms(seeds: list[int], steps: int) -> np.ndarray:
    """[len(seeds) x steps] uniform draws in [0, 1), one counter-based stream per seed."""
    out = np.empty((len(seeds), steps))
    for row, seed in enumerate(seeds):
        out[row] = np.random.Generator(np.random.Philox(key=seed)).random(steps)
    return out
