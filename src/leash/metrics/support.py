"""Empirical support dynamics (Wu et al. 2025, "The Invisible Leash").

At a sampling budget k a problem is in a model's empirical support when at least
one of k samples is correct; a solution of probability below epsilon = -ln(zeta)/k
is missed with probability above zeta. Comparing base and tuned supports sorts
each problem into a region:

    Preservation  P  both solve it         Shrinkage     S  only the base
    Expansion     E  only the tuned model  Out of support O  neither

    SRR  = P / (P + S)        support retention rate
    NDR  = E / (P + E)        net discovery rate
    SDS  = 2 SRR NDR / (SRR + NDR)   (0 when both are 0)
    NSCR = (E - S) / (P + E + S)     net support change rate

A ratio whose denominator is 0 is 0/0 (no problem of that kind) and reported as 0.

Aggregates sum the counts first, then divide. When k is below a run's n, each
side's chance of covering a problem is its pass@k, and the two runs sample
independently, so region counts are expectations (sums of products).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from leash.metrics.passk import pass_at_k

__all__ = [
    "REGIONS",
    "Regions",
    "epsilon",
    "epsilon_exact",
    "region_probabilities",
    "support_regions",
]

REGIONS = ("P", "S", "E", "O")


def epsilon(k: int, zeta: float = 0.05) -> float:
    """Detectability threshold -ln(zeta)/k: a solution rarer than this is missed w.p. > zeta."""
    _check_budget(k, zeta)
    return -math.log(zeta) / k


def epsilon_exact(k: int, zeta: float = 0.05) -> float:
    """The exact threshold 1 - zeta^(1/k), of which -ln(zeta)/k is the first-order form."""
    _check_budget(k, zeta)
    return -math.expm1(math.log(zeta) / k)


def _check_budget(k: int, zeta: float) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0.0 < zeta < 1.0:
        raise ValueError(f"zeta must be in (0, 1), got {zeta}")


@dataclass(frozen=True)
class Regions:
    """Counts (possibly expected, so fractional) of the four support regions."""

    P: float
    S: float
    E: float
    O: float  # noqa: E741 - the paper's name

    @property
    def SRR(self) -> float:
        return _ratio(self.P, self.P + self.S)

    @property
    def NDR(self) -> float:
        return _ratio(self.E, self.P + self.E)

    @property
    def SDS(self) -> float:
        srr, ndr = self.SRR, self.NDR
        return 0.0 if srr + ndr == 0 else 2 * srr * ndr / (srr + ndr)

    @property
    def NSCR(self) -> float:
        return _ratio(self.E - self.S, self.P + self.E + self.S)

    def __add__(self, other: Regions) -> Regions:
        return Regions(self.P + other.P, self.S + other.S, self.E + other.E, self.O + other.O)

    def as_dict(self) -> dict[str, float]:
        return {
            "P": self.P,
            "S": self.S,
            "E": self.E,
            "O": self.O,
            "SRR": self.SRR,
            "NDR": self.NDR,
            "SDS": self.SDS,
            "NSCR": self.NSCR,
        }


def _ratio(num: float, den: float) -> float:
    # Each numerator is bounded by its denominator, so den == 0 means 0/0: no
    # retained, discovered or changed problems to speak of, reported as 0.
    return num / den if den > 0 else 0.0


def region_probabilities(
    n_base: ArrayLike, c_base: ArrayLike, n_tuned: ArrayLike, c_tuned: ArrayLike, k: int
) -> NDArray[np.float64]:
    """Per unit (problem, or problem x answer), the chance of each region at budget k.

    Returns [units x 4] in the order P, S, E, O; k must not exceed any unit's n.
    A unit's coverage at k is pass@k of its (n, c); at k = n it is 1 if c > 0 else 0.
    """
    b = pass_at_k(n_base, c_base, [k])[:, 0]
    t = pass_at_k(n_tuned, c_tuned, [k])[:, 0]
    if np.isnan(b).any() or np.isnan(t).any():
        raise ValueError(f"budget k={k} exceeds the number of samples of some problem")
    return np.stack([b * t, b * (1 - t), (1 - b) * t, (1 - b) * (1 - t)], axis=1)


def support_regions(
    n_base: ArrayLike, c_base: ArrayLike, n_tuned: ArrayLike, c_tuned: ArrayLike, k: int
) -> Regions:
    """Region counts summed over units at budget k (expected counts when k < n).

    Problem grain: one unit per problem, c = correct samples. Answer grain: one
    unit per (problem, distinct correct answer), c = samples giving that answer.
    """
    probs = region_probabilities(n_base, c_base, n_tuned, c_tuned, k)
    total = probs.sum(axis=0)
    return Regions(*(float(x) for x in total))
