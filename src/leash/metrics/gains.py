"""Who gains: rank correlation between a per-problem gain and the base's pass@1.

Spearman's ρ is Pearson's correlation of the ranks, ties given their average rank.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["average_ranks", "spearman"]


def average_ranks(x: ArrayLike) -> NDArray[np.float64]:
    """Ranks 1..n of x, tied values sharing the mean of the ranks they span."""
    values = np.asarray(x, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Start of each run of equal values, and the run each sorted position belongs to.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values) != 0) + 1]
    run = np.cumsum(np.r_[0, np.diff(sorted_values) != 0])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(values))
    ranks[order] = mean_rank[run]
    return ranks


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's ρ of x and y over the pairs where both are finite; NaN when fewer than two
    pairs remain or either side is constant."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2:
        return float("nan")
    ra, rb = average_ranks(a) - (len(a) + 1) / 2.0, average_ranks(b) - (len(a) + 1) / 2.0
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")
