"""Reliability: pass^k, G-Pass@k_τ, mG-Pass@k and cover@τ (every k or τ at once).

With n samples of a problem, c correct, draw k without replacement; the number of
correct draws X is hypergeometric, P(X = j) = C(c, j) C(n-c, k-j) / C(n, k).

- pass^k = P(X = k) = C(c, k) / C(n, k): all k draws correct (τ-bench, arXiv 2406.12045).
- G-Pass@k_τ = P(X >= m), m = max(⌈τk⌉, 1) (Liu et al., arXiv 2412.13147): at least a
  share τ of the k draws correct; τ = 1 is pass^k, τ -> 0 is pass@k.
- mG-Pass@k = (2/k) sum_{i=⌈k/2⌉+1}^{k} G-Pass@k_{i/k} = (2/k) E[max(0, X - ⌈k/2⌉)],
  the area under G-Pass@k_τ for τ in [0.5, 1] (their eq. 4).
- cover@τ = share of problems with c/n >= τ (Dragoi et al., arXiv 2510.08325). With
  p = c/n, the mean of 1 - (1-p)^k is the Beta(1, k)-weighted mean of cover@τ:
  ∫_0^1 cover@τ · k(1-τ)^(k-1) dτ.

pass^k is a running product (exact to ~1e-15 at n = 16384); the G-Pass family sums
hypergeometric probabilities from log-gamma (relative error ~1e-10 at that n).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from leash.metrics.passk import _counts, falling_ratio

__all__ = ["TAU_GRID", "cover_at_tau", "g_pass_at_k", "mg_pass_at_k", "pass_hat_k", "threshold"]

# cover@τ's default grid: τ = 0.05, 0.10, ..., 1.00.
TAU_GRID = tuple(round(i / 20, 2) for i in range(1, 21))

# Cells per block of the [problems x (k+1)] probability table.
_BLOCK_CELLS = 1 << 20


def pass_hat_k(n: ArrayLike, c: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """pass^k = C(c, k) / C(n, k), shape [problems x len(ks)]; NaN where k > n."""
    n_arr, c_arr, k_arr = _counts(n, c, ks)
    return falling_ratio(n_arr, c_arr, k_arr)


def threshold(k: int, tau: float) -> int:
    """m = max(⌈τk⌉, 1), the fewest correct draws G-Pass@k_τ asks for; τk is rounded to 12
    digits first, so τ = 0.05 * 7 and k = 20 ask for 7 (a bare float ceiling asks for 8)."""
    return max(math.ceil(round(tau * k, 12)), 1)


def _log_factorials(n_max: int) -> NDArray[np.float64]:
    return np.array([math.lgamma(x + 1.0) for x in range(n_max + 1)])


def _pmf(n: NDArray[np.int64], c: NDArray[np.int64], k: int, lf: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(X = j), j = 0..k, per problem [rows x (k+1)]; rows need n >= k. Each row is divided by
    its sum (1 up to rounding), which removes the common error of the log-gamma terms."""
    j = np.arange(k + 1)
    nc = (n - c)[:, None]
    cc = c[:, None]
    ok = (j[None, :] <= cc) & (k - j[None, :] <= nc)
    jj = np.where(ok, j[None, :], 0)
    a = np.where(ok, cc - jj, 0)
    b = np.where(ok, nc - (k - jj), 0)
    log_p = lf[cc] - lf[jj] - lf[a] + lf[nc] - lf[k - jj] - lf[b]
    log_p = np.where(ok, log_p, -np.inf)
    log_p -= log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def _hypergeometric_sweep(
    n: ArrayLike, c: ArrayLike, ks: ArrayLike, taus: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(G-Pass [problems x ks x taus], mG-Pass [problems x ks]) from one table per k."""
    n_arr, c_arr, k_arr = _counts(n, c, ks)
    tau_arr = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    if np.any(tau_arr < 0) or np.any(tau_arr > 1):
        raise ValueError("every τ must be in [0, 1]")
    g = np.full((len(n_arr), len(k_arr), len(tau_arr)), np.nan)
    mg = np.full((len(n_arr), len(k_arr)), np.nan)
    if len(n_arr) == 0:
        return g, mg
    lf = _log_factorials(int(n_arr.max()))
    for col, k in enumerate(k_arr.tolist()):
        rows_k = np.flatnonzero(n_arr >= k)
        block = max(1, _BLOCK_CELLS // (k + 1))
        for start in range(0, len(rows_k), block):
            rows = rows_k[start : start + block]
            p = _pmf(n_arr[rows], c_arr[rows], k, lf)
            tail = np.cumsum(p[:, ::-1], axis=1)[:, ::-1]  # tail[:, m] = P(X >= m)
            for t, tau in enumerate(tau_arr.tolist()):
                g[rows, col, t] = np.minimum(tail[:, threshold(k, tau)], 1.0)
            half = math.ceil(k / 2)
            excess = np.maximum(np.arange(k + 1) - half, 0)
            mg[rows, col] = 2.0 / k * (p @ excess)
    return g, mg


def g_pass_at_k(n: ArrayLike, c: ArrayLike, ks: ArrayLike, taus: ArrayLike) -> NDArray[np.float64]:
    """G-Pass@k_τ = P(X >= max(⌈τk⌉, 1)), shape [problems x len(ks) x len(taus)]; NaN where k > n."""
    return _hypergeometric_sweep(n, c, ks, taus)[0]


def mg_pass_at_k(n: ArrayLike, c: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """mG-Pass@k = (2/k) sum_{i=⌈k/2⌉+1}^{k} P(X >= i), shape [problems x len(ks)]; NaN where k > n."""
    return _hypergeometric_sweep(n, c, ks, [])[1]


def cover_at_tau(n: ArrayLike, c: ArrayLike, taus: ArrayLike = TAU_GRID) -> NDArray[np.float64]:
    """Per problem 1.0 where c/n >= τ, else 0.0, shape [problems x len(taus)]; the mean over
    problems is cover@τ. c/n is compared with τ to 1e-12, so 3/10 counts at τ = 0.3."""
    n_arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
    c_arr = np.atleast_1d(np.asarray(c, dtype=np.float64))
    tau_arr = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    if n_arr.shape != c_arr.shape or np.any(n_arr < 1) or np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 1-D n >= 1 and 0 <= c <= n of the same length")
    rate = c_arr / n_arr
    return (rate[:, None] >= tau_arr[None, :] - 1e-12).astype(np.float64)
