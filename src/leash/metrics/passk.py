"""pass@k and the curves built from it (Chen et al. 2021; Yue et al. 2025).

With n samples of a problem, c of them correct, the unbiased estimate of the chance
that at least one of k samples drawn without replacement is correct is

    pass@k = 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=0}^{k-1} (n-c-i) / (n-i)

The product form needs no factorials: the running product over i gives every
k = 1..k_max in O(k_max) per problem, and stays exact to ~1e-15 at n = 16384, where
float binomials overflow and log-gamma loses ~1e-10.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "avg_at_n",
    "crossover_k",
    "delta_se",
    "falling_ratio",
    "maj_at_k",
    "mean_with_band",
    "pass_at_k",
    "se_gap",
]

# Cells per block of the [problems x k] running product: keeps the two work buffers
# small (2 x 4 MB) whatever the number of problems.
_BLOCK_CELLS = 1 << 19


def pass_at_k(n: ArrayLike, c: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """Unbiased pass@k, shape [problems x len(ks)]; NaN where k > n (never extrapolated).

    n, c: samples and correct samples per problem (problems may differ in n);
    ks: the budgets, each >= 1.
    """
    n_arr, c_arr, k_arr = _counts(n, c, ks)
    return 1.0 - falling_ratio(n_arr, n_arr - c_arr, k_arr)


def _counts(
    n: ArrayLike, c: ArrayLike, ks: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """n, c and ks as checked int64 arrays (the contract every estimator over counts shares)."""
    n_arr = np.atleast_1d(np.asarray(n, dtype=np.int64))
    c_arr = np.atleast_1d(np.asarray(c, dtype=np.int64))
    k_arr = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    if n_arr.shape != c_arr.shape or n_arr.ndim != 1:
        raise ValueError("n and c must be 1-D arrays of the same length")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n for every problem")
    if np.any(k_arr < 1):
        raise ValueError("every k must be >= 1")
    return n_arr, c_arr, k_arr


def falling_ratio(n: ArrayLike, top: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """C(top, k) / C(n, k) = prod_{i<k} (top-i)/(n-i) per problem and k; NaN where k > n.

    The running product over i gives every k = 1..max(ks) at once (0 <= top <= n):
    1 - falling_ratio(n, n-c, ks) is pass@k, falling_ratio(n, c, ks) is pass^k.
    """
    n_arr = np.atleast_1d(np.asarray(n, dtype=np.int64))
    top_arr = np.atleast_1d(np.asarray(top, dtype=np.int64))
    k_arr = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    out = np.empty((len(n_arr), len(k_arr)))
    if len(n_arr) == 0 or len(k_arr) == 0:
        return out
    k_max = int(min(k_arr.max(), max(n_arr.max(), 1)))
    every_k = len(k_arr) == k_max and bool(np.all(k_arr == np.arange(1, k_max + 1)))
    k_cols = np.clip(k_arr, 1, k_max) - 1  # column j of the running product is k = j+1
    i = np.arange(k_max, dtype=np.float64)  # the product's index, 0..k_max-1
    block = max(1, _BLOCK_CELLS // k_max)
    den = np.empty((min(block, len(n_arr)), k_max))
    ratio = np.empty_like(den)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, len(n_arr), block):
            rows = slice(start, start + block)
            m = len(n_arr[rows])
            d, f = den[:m], ratio[:m]
            np.subtract(n_arr[rows, None].astype(np.float64), i, out=d)  # n - i
            np.subtract(top_arr[rows, None].astype(np.float64), i, out=f)  # top - i
            np.divide(f, d, out=f)
            # Once top-i reaches 0 every larger k has ratio 0 (no k-subset of `top` items left).
            np.maximum(f, 0.0, out=f)
            np.cumprod(f, axis=1, out=f)
            if every_k:
                out[rows] = f
            else:
                out[rows] = f[:, k_cols]
    short = np.flatnonzero(n_arr < k_arr.max())
    if len(short):  # budgets beyond a problem's n are missing, never extrapolated
        out[short] = np.where(k_arr[None, :] > n_arr[short, None], np.nan, out[short])
    return out


def mean_with_band(
    values: ArrayLike,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over problems (rows) with a percentile bootstrap band, resampling problems.

    Returns (mean, lo, hi), one value per column. A column where any problem is
    missing (NaN) is NaN: a mean over a silently smaller set of problems is not
    the same curve.
    """
    m = np.asarray(values, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]
    n_problems, n_cols = m.shape
    if n_problems == 0:
        nan = np.full(n_cols, np.nan)
        return nan, nan.copy(), nan.copy()
    mean = m.mean(axis=0)
    rng = np.random.default_rng(seed)
    # Resample problems: each bootstrap draw is a multinomial count vector over problems.
    weights = rng.multinomial(n_problems, np.full(n_problems, 1.0 / n_problems), size=n_boot)
    filled = np.where(np.isnan(m), 0.0, m)
    boot = weights @ filled / n_problems  # [n_boot x cols]
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
    missing = np.isnan(mean)
    lo[missing] = np.nan
    hi[missing] = np.nan
    return mean, lo, hi


def avg_at_n(n: ArrayLike, c: ArrayLike) -> float:
    """avg@n: the mean over problems of the fraction of correct samples, c/n."""
    n_arr = np.asarray(n, dtype=np.float64)
    c_arr = np.asarray(c, dtype=np.float64)
    if n_arr.size == 0:
        return float("nan")
    return float(np.mean(c_arr / n_arr))


def se_gap(pass_at_1: float, pass_at_k_max: float) -> float:
    """Sampling-efficiency gap of one model: pass@k_max - pass@1."""
    return pass_at_k_max - pass_at_1


def delta_se(base_pass_at_k_max: float, tuned_pass_at_1: float) -> float:
    """Yue et al.'s Delta_SE: base pass@k_max - tuned pass@1 (how far RL is from the base's reach)."""
    return base_pass_at_k_max - tuned_pass_at_1


def crossover_k(base: ArrayLike, tuned: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """Per row: the smallest k at which the base's pass@k exceeds the tuned model's.

    base, tuned: pass@k curves [rows x len(ks)] on the same increasing ks. Defined
    only where the tuned model leads at the first k (the base must overtake);
    NaN otherwise or when the base never overtakes within ks.
    """
    b = np.atleast_2d(np.asarray(base, dtype=np.float64))
    t = np.atleast_2d(np.asarray(tuned, dtype=np.float64))
    k_arr = np.asarray(ks, dtype=np.float64)
    ahead = b > t  # NaN compares False
    first = np.argmax(ahead, axis=1)
    found = ahead[np.arange(len(b)), first]
    leads_at_start = t[:, 0] > b[:, 0]
    return np.where(found & leads_at_start, k_arr[first], np.nan)


def maj_at_k(
    problem: ArrayLike,
    rank: ArrayLike,
    answer: ArrayLike,
    answer_correct: ArrayLike,
    n_problems: int,
    ks: ArrayLike,
) -> NDArray[np.float64]:
    """maj@k per problem: is the most frequent answer among the first k samples correct?

    One entry per sample: `problem` (0..n_problems-1), `rank` (0-based order of the
    sample within its problem, by sample_idx), `answer` (an integer code per
    distinct answer of a problem, numbered by first appearance; -1 = no answer,
    which never votes). `answer_correct[problem, code]` (2-D bool) tells whether
    an answer is correct. Ties go to the answer seen first. Returns
    [n_problems x len(ks)], NaN where a problem has fewer than k samples, 0 when
    none of its first k samples gave an answer.
    """
    # One entry per sample: keep the caller's integer width (no int64 copies of 16M rows).
    p, r, a = np.asarray(problem), np.asarray(rank), np.asarray(answer)
    truth = np.asarray(answer_correct, dtype=bool)
    k_arr = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    n_codes = max(truth.shape[1] if truth.ndim == 2 else 0, int(a.max(initial=-1)) + 1, 1)
    sizes = np.bincount(p, minlength=n_problems)
    out = np.full((n_problems, len(k_arr)), np.nan)
    for j, k in enumerate(k_arr):
        keep = (r < k) & (a >= 0)
        votes = np.bincount(p[keep].astype(np.int64) * n_codes + a[keep], minlength=n_problems * n_codes)
        votes = votes.reshape(n_problems, n_codes)
        winner = np.argmax(votes, axis=1)  # argmax picks the lowest code on ties
        has_vote = votes.max(axis=1) > 0
        padded = np.zeros((n_problems, n_codes), dtype=bool)
        padded[:, : truth.shape[1]] = truth
        correct = padded[np.arange(n_problems), winner] & has_vote
        out[:, j] = np.where(sizes >= k, correct.astype(np.float64), np.nan)
    return out
