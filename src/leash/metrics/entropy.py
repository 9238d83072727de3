"""Answer-level entropy: how spread a model's final answers are on each problem.

    H(problem) = - sum_a p_a ln p_a,   p_a = (samples with answer a) / n

over the distinct canonical answers, with "no answer" counted as one class of its
own ("NA"). Natural log. A model that collapses onto one answer has H = 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["answer_entropy"]


def answer_entropy(problem: ArrayLike, count: ArrayLike, n_problems: int) -> NDArray[np.float64]:
    """Per-problem entropy (nats) from one row per (problem, answer class) with its count.

    problem: the problem index (0..n_problems-1) of each row; count: samples of that
    answer class (the NA class is a row like any other). Problems without rows get NaN.
    """
    p = np.asarray(problem, dtype=np.int64)
    m = np.asarray(count, dtype=np.float64)
    totals = np.bincount(p, weights=m, minlength=n_problems)
    share = m / totals[p]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(share > 0, -share * np.log(share), 0.0)
    h: NDArray[np.float64] = np.bincount(p, weights=terms, minlength=n_problems).astype(np.float64)
    h[totals == 0] = np.nan
    return h
