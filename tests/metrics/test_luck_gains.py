"""The luck baseline's formulas and Spearman's ρ, against exact fractions and scipy."""

from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from leash.metrics import average_ranks, guess_rate, luck_at_k, spearman, within_luck


def test_luck_at_k_exact():
    ps = [Fraction(0), Fraction(1, 7), Fraction(1, 2), Fraction(1)]
    ks = [1, 2, 5, 64]
    got = luck_at_k([float(p) for p in ps], ks)
    for i, p in enumerate(ps):
        for j, k in enumerate(ks):
            assert got[i, j] == pytest.approx(float(1 - (1 - p) ** k), abs=1e-15)


def test_luck_at_k_keeps_tiny_probabilities():
    # 1 - (1 - 1e-12)^3 computed naively loses most digits; -expm1(k log1p(-p)) keeps them.
    assert luck_at_k([1e-12], [3])[0, 0] == pytest.approx(3e-12, rel=1e-9)


def test_guess_rate_is_the_accepted_share_of_the_pool():
    accepted = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    weights = [5, 3, 2]
    assert guess_rate(accepted, weights).tolist() == [0.5, 0.5, 0.0]
    assert guess_rate(accepted, [0, 0, 0]).tolist() == [0.0, 0.0, 0.0]


def test_within_luck():
    got = within_luck([10, 10, 10, 10], [0, 1, 3, 1], [0.5, 0.1, 0.2, 0.05])
    assert got.tolist() == [False, True, False, False]


@pytest.mark.parametrize("seed", range(4))
def test_spearman_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=40) / 5  # many ties, like pass@1 = c/n
    y = rng.normal(size=40) + x
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    np.testing.assert_allclose(average_ranks(x), stats.rankdata(x))


def test_spearman_undefined():
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert np.isnan(spearman([1], [2]))
    assert spearman([1, 2, np.nan, 3], [3, 2, 0, 1]) == pytest.approx(-1.0)
