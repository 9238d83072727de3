"""Per-problem significance of a change in success rate between two runs.

For each problem, the 2x2 table [[c_base, n_base - c_base], [c_tuned, n_tuned - c_tuned]]
gets a two-sided Fisher exact test: the p-value sums the hypergeometric
probabilities of every table with the same margins that is no more likely than the
observed one. Benjamini-Hochberg then controls the false discovery rate across
problems.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["benjamini_hochberg", "fisher_exact"]

# Tables whose probability is within this relative margin of the observed one
# count as "as extreme": float noise must not drop the observed table itself.
_RELATIVE_TOLERANCE = 1e-7


def _log_factorials(n_max: int) -> NDArray[np.float64]:
    return np.array([math.lgamma(i + 1.0) for i in range(n_max + 1)])


def fisher_exact(
    c_base: ArrayLike, n_base: ArrayLike, c_tuned: ArrayLike, n_tuned: ArrayLike
) -> NDArray[np.float64]:
    """Two-sided Fisher exact p-value per problem (vectorised over problems)."""
    cb = np.atleast_1d(np.asarray(c_base, dtype=np.int64))
    nb = np.atleast_1d(np.asarray(n_base, dtype=np.int64))
    ct = np.atleast_1d(np.asarray(c_tuned, dtype=np.int64))
    nt = np.atleast_1d(np.asarray(n_tuned, dtype=np.int64))
    out = np.ones(len(cb))
    if len(cb) == 0:
        return out
    logf = _log_factorials(int((nb + nt).max()))
    for j in range(len(cb)):
        successes = int(cb[j] + ct[j])
        total = int(nb[j] + nt[j])
        if successes in (0, total):
            continue  # one column is empty: every table with these margins is the same
        # x = correct in the base row ranges over the hypergeometric support.
        x = np.arange(max(0, successes - int(nt[j])), min(successes, int(nb[j])) + 1)
        log_p = (
            logf[successes]
            + logf[total - successes]
            + logf[nb[j]]
            + logf[nt[j]]
            - logf[total]
            - logf[x]
            - logf[nb[j] - x]
            - logf[successes - x]
            - logf[nt[j] - successes + x]
        )
        observed = log_p[int(cb[j]) - int(x[0])]
        p = np.exp(log_p - log_p.max())
        p_obs = math.exp(observed - log_p.max())
        out[j] = min(1.0, p[p <= p_obs * (1 + _RELATIVE_TOLERANCE)].sum() / p.sum())
    return out


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """BH-adjusted q-values: q_(i) = min_{j >= i} p_(j) m / j, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
