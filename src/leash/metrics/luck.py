"""The luck baseline: how often guessing from a pool of answers would pass a problem.

A model that ignored the question and drew its final answer from the answers it gives
over the whole dataset (the pool: every sample's final answer, with its frequency)
would be right on problem i with probability p_guess_i = (pool mass the problem's
verifier accepts) / (pool mass). k such guesses, drawn with replacement, pass with

    luck@k = 1 - (1 - p_guess)^k.

For a multiple-choice problem with m options, uniform guessing gives p = 1/m.
A solved problem is *within luck* when its own success rate c/n is no higher than
p_guess: then at every k, guessing from the pool reaches it at least as often as the
model's own samples drawn with replacement (1 - (1-p)^k increases with p).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["guess_rate", "luck_at_k", "within_luck"]


def luck_at_k(p: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """1 - (1 - p)^k per problem and k, shape [problems x len(ks)] (as -expm1(k log1p(-p)))."""
    p_arr = np.atleast_1d(np.asarray(p, dtype=np.float64))
    k_arr = np.atleast_1d(np.asarray(ks, dtype=np.float64))
    if np.any((p_arr < 0) | (p_arr > 1)):
        raise ValueError("every probability must be in [0, 1]")
    with np.errstate(divide="ignore"):
        log_miss = np.log1p(-p_arr)  # -inf where p = 1
    out: NDArray[np.float64] = -np.expm1(k_arr[None, :] * log_miss[:, None])
    return out


def guess_rate(accepted: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """p_guess per problem: sum_a weights[a] * accepted[problem, a] / sum_a weights[a].

    accepted: [problems x answers] 0/1 (the verifier's verdict on answer a for the
    problem); weights: how often each answer occurs in the pool.
    """
    acc = np.atleast_2d(np.asarray(accepted, dtype=np.float64))
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if total <= 0:
        return np.zeros(acc.shape[0])
    rate: NDArray[np.float64] = acc @ w / total
    return rate


def within_luck(n: ArrayLike, c: ArrayLike, p_guess: ArrayLike) -> NDArray[np.bool_]:
    """Solved problems (c >= 1) whose success rate c/n is no higher than p_guess."""
    n_arr = np.asarray(n, dtype=np.float64)
    c_arr = np.asarray(c, dtype=np.float64)
    p_arr = np.asarray(p_guess, dtype=np.float64)
    out: NDArray[np.bool_] = (c_arr >= 1) & (c_arr / n_arr <= p_arr + 1e-12)
    return out
