"""Support regions and epsilon against the Invisible Leash's tables and brute force."""

import math
from itertools import combinations

import numpy as np
import pytest

from leash.metrics import Regions, epsilon, epsilon_exact, region_probabilities, support_regions


@pytest.mark.parametrize(
    ("P", "E", "S", "O", "srr", "ndr", "sds", "nscr"),
    [
        (15, 4, 4, 7, 0.7895, 0.2105, 0.3324, 0.0),
        (2400, 36, 163, 805, 0.9364, 0.0148, 0.0291, -0.0489),
        (761, 83, 104, 599, 0.8798, 0.0983, 0.1769, -0.0222),
    ],
)
def test_ratios_reproduce_the_papers_tables(P, E, S, O, srr, ndr, sds, nscr):  # noqa: E741
    r = Regions(P=P, S=S, E=E, O=O)
    assert round(r.SRR, 4) == srr
    assert round(r.NDR, 4) == ndr
    assert round(r.SDS, 4) == sds
    assert round(r.NSCR, 4) == nscr


def test_empty_denominators_give_zero_not_nan():
    lost_all = Regions(P=0, S=3, E=0, O=1)  # SRR = 0/3, NDR = 0/0
    assert (lost_all.SRR, lost_all.NDR, lost_all.SDS, lost_all.NSCR) == (0.0, 0.0, 0.0, -1.0)
    nothing = Regions(P=0, S=0, E=0, O=5)
    assert (nothing.SRR, nothing.NDR, nothing.SDS, nothing.NSCR) == (0.0, 0.0, 0.0, 0.0)
    assert not math.isnan(Regions(P=0, S=0, E=2, O=0).SDS)


def test_aggregates_sum_counts_first():
    a, b = Regions(10, 0, 0, 0), Regions(1, 1, 0, 0)
    assert pytest.approx(11 / 12) == (a + b).SRR
    assert pytest.approx((a.SRR + b.SRR) / 2) != (a + b).SRR


def test_epsilon():
    assert epsilon(8192, 0.05) == pytest.approx(3.6569e-4, abs=5e-9)
    assert epsilon_exact(8192, 0.05) == pytest.approx(1 - 0.05 ** (1 / 8192), rel=1e-12)
    assert epsilon_exact(8192) < epsilon(8192)
    with pytest.raises(ValueError):
        epsilon(0)


def test_regions_at_full_n_are_exact_counts():
    n = [8, 8, 8, 8, 8]
    cb = [3, 0, 2, 0, 8]
    ct = [1, 4, 0, 0, 8]
    r = support_regions(n, cb, n, ct, 8)
    assert (r.P, r.S, r.E, r.O) == (2, 1, 1, 1)


def test_expected_regions_below_n_match_subset_enumeration():
    # Base: 6 samples, 2 correct; tuned: 5 samples, 1 correct; budget k = 2.
    base = [1, 1, 0, 0, 0, 0]
    tuned = [1, 0, 0, 0, 0]
    k = 2
    b_sub = list(combinations(range(6), k))
    t_sub = list(combinations(range(5), k))
    counts = np.zeros(4)
    for sb in b_sub:
        for st in t_sub:
            hb = any(base[i] for i in sb)
            ht = any(tuned[i] for i in st)
            counts[[hb and ht, hb and not ht, ht and not hb, not hb and not ht].index(True)] += 1
    counts /= len(b_sub) * len(t_sub)
    got = region_probabilities([6], [2], [5], [1], k)[0]
    assert np.allclose(got, counts, atol=1e-15)


def test_budget_above_n_is_refused():
    with pytest.raises(ValueError):
        region_probabilities([4], [1], [8], [1], 5)
