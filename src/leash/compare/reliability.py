"""compare.json's reliability and who-gains blocks: pass^k, cover@τ, G-Pass@k_τ, mG-Pass@k,
and the rank correlation of each problem's gain with the base's pass@1.

Per-problem arrays are computed once for both runs (`reliability_arrays`); each block
(overall, each dataset) averages its rows with a bootstrap band over problems, as
pass@k does. G-Pass is reported on the powers of two of the k grid (and its largest k):
its cost grows with k, and a curve needs no more points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from leash.metrics import (
    TAU_GRID,
    cover_at_tau,
    g_pass_at_k,
    mean_with_band,
    mg_pass_at_k,
    pass_at_k,
    pass_hat_k,
    spearman,
)

__all__ = ["G_PASS_TAUS", "Reliability", "reliability_arrays", "reliability_block", "who_gains"]

G_PASS_TAUS = (0.25, 0.5, 0.75, 1.0)  # the paper's and lighteval's thresholds


@dataclass(frozen=True)
class Reliability:
    """One run's per-problem reliability numbers."""

    pass_hat: NDArray[np.float64]  # [problems x ks]
    cover: NDArray[np.float64]  # [problems x TAU_GRID], 0/1
    g_pass: NDArray[np.float64]  # [problems x g_ks x G_PASS_TAUS]
    mg_pass: NDArray[np.float64]  # [problems x g_ks]


def g_pass_ks(ks: list[int]) -> list[int]:
    """The powers of two in ks, and the largest k."""
    return [k for k in ks if k & (k - 1) == 0 or k == ks[-1]]


def reliability_arrays(n: NDArray[np.int64], c: NDArray[np.int64], ks: list[int]) -> Reliability:
    g_ks = g_pass_ks(ks)
    return Reliability(
        pass_hat=pass_hat_k(n, c, ks),
        cover=cover_at_tau(n, c, TAU_GRID),
        g_pass=g_pass_at_k(n, c, g_ks, G_PASS_TAUS),
        mg_pass=mg_pass_at_k(n, c, g_ks),
    )


def _curve(
    axis: str, grid: list[Any], base: NDArray[np.float64], tuned: NDArray[np.float64], n_boot: int, seed: int
) -> dict[str, Any]:
    mean_b, lo_b, hi_b = mean_with_band(base, n_boot=n_boot, seed=seed)
    mean_t, lo_t, hi_t = mean_with_band(tuned, n_boot=n_boot, seed=seed)
    return {
        axis: grid,
        "base": mean_b,
        "tuned": mean_t,
        "base_band": np.stack([lo_b, hi_b], axis=1),
        "tuned_band": np.stack([lo_t, hi_t], axis=1),
    }


def reliability_block(
    base: Reliability, tuned: Reliability, rows: NDArray[np.int64], ks: list[int], n_boot: int, seed: int
) -> dict[str, Any]:
    """pass_hat_k, cover_at_tau, g_pass_at_k (by τ) and mg_pass_at_k for the problems in rows."""
    g_ks = g_pass_ks(ks)
    return {
        "pass_hat_k": _curve("k", ks, base.pass_hat[rows], tuned.pass_hat[rows], n_boot, seed),
        "cover_at_tau": _curve("tau", list(TAU_GRID), base.cover[rows], tuned.cover[rows], n_boot, seed),
        "g_pass_at_k": {
            "k": g_ks,
            "by_tau": {
                str(tau): _curve("k", g_ks, base.g_pass[rows, :, t], tuned.g_pass[rows, :, t], n_boot, seed)
                for t, tau in enumerate(G_PASS_TAUS)
            },
        },
        "mg_pass_at_k": _curve("k", g_ks, base.mg_pass[rows], tuned.mg_pass[rows], n_boot, seed),
    }


def who_gains(
    n_base: NDArray[np.int64],
    c_base: NDArray[np.int64],
    n_tuned: NDArray[np.int64],
    c_tuned: NDArray[np.int64],
    k_max: int,
) -> tuple[dict[str, Any], NDArray[np.float64]]:
    """Spearman's ρ between the base's pass@1 and each problem's Δpass@k = tuned − base at
    k = 1 and k = k_max; returns (the block, Δ per problem [problems x 2])."""
    ks = [1, k_max] if k_max > 1 else [1]
    delta = pass_at_k(n_tuned, c_tuned, ks) - pass_at_k(n_base, c_base, ks)
    x = c_base / n_base
    block = {
        "x": "base pass@1",
        "y": "tuned pass@k − base pass@k",
        "k": ks,
        "spearman": [spearman(x, delta[:, j]) for j in range(len(ks))],
        "mean_delta": delta.mean(axis=0),
    }
    return block, delta
