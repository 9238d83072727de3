"""pass^k, G-Pass@k_τ, mG-Pass@k and cover@τ against exact fractions, scipy and the Beta(1, k) link."""

import itertools
import math
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from scipy import integrate, stats

from leash.metrics import (
    TAU_GRID,
    cover_at_tau,
    g_pass_at_k,
    mg_pass_at_k,
    pass_at_k,
    pass_hat_k,
)
from leash.metrics.reliability import threshold

SMALL = [(n, c) for n in range(1, 13) for c in range(n + 1)]


def exact_tail(n, c, k, m):
    """P(X >= m), X ~ Hypergeometric(n, c, k), as a Fraction."""
    return sum(Fraction(comb(c, j) * comb(n - c, k - j), comb(n, k)) for j in range(m, min(c, k) + 1))


def exact_m(k, tau):
    """max(⌈τk⌉, 1) with τ read as the decimal it was written as."""
    return max(math.ceil(Fraction(str(tau)) * k), 1)


def test_pass_hat_k_exact_fractions_every_k():
    n = [n for n, _ in SMALL]
    c = [c for _, c in SMALL]
    ks = list(range(1, 13))
    got = pass_hat_k(n, c, ks)
    for row, (nn, cc) in enumerate(SMALL):
        for col, k in enumerate(ks):
            if k > nn:
                assert math.isnan(got[row, col])
            else:
                assert got[row, col] == pytest.approx(float(Fraction(comb(cc, k), comb(nn, k))), abs=1e-15)


def test_pass_hat_k_large_n_against_scipy():
    n, c = np.array([16384, 16384, 5000]), np.array([16000, 8000, 4999])
    ks = [1, 2, 16, 256, 4096]
    got = pass_hat_k(n, c, ks)
    for row in range(3):
        for col, k in enumerate(ks):
            want = stats.hypergeom.pmf(k, n[row], c[row], k)
            assert got[row, col] == pytest.approx(want, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("taus", [[0.0, 0.25, 0.5, 0.75, 1.0], [0.1, 0.3, 0.7]])
def test_g_pass_exact_fractions(taus):
    n = [n for n, _ in SMALL]
    c = [c for _, c in SMALL]
    ks = list(range(1, 13))
    got = g_pass_at_k(n, c, ks, taus)
    for row, (nn, cc) in enumerate(SMALL):
        for col, k in enumerate(ks):
            for t, tau in enumerate(taus):
                if k > nn:
                    assert math.isnan(got[row, col, t])
                else:
                    want = float(exact_tail(nn, cc, k, exact_m(k, tau)))
                    assert got[row, col, t] == pytest.approx(want, abs=1e-13)


def test_g_pass_ends_are_pass_at_k_and_pass_hat_k():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 300, size=60)
    c = rng.integers(0, n + 1)
    ks = [1, 2, 4, 8, 16, 64, 256]
    g = g_pass_at_k(n, c, ks, [0.0, 1.0])
    np.testing.assert_allclose(g[:, :, 0], pass_at_k(n, c, ks), atol=1e-12)
    np.testing.assert_allclose(g[:, :, 1], pass_hat_k(n, c, ks), atol=1e-12)


def test_g_pass_large_n_against_scipy_hypergeom():
    n, c = np.array([16384, 16384, 2048]), np.array([9000, 40, 1500])
    ks, taus = [64, 1024, 8192], [0.25, 0.5, 0.75]
    got = g_pass_at_k(n, c, ks, taus)
    for row in range(3):
        for col, k in enumerate(ks):
            for t, tau in enumerate(taus):
                if k > n[row]:
                    assert math.isnan(got[row, col, t])
                    continue
                want = stats.hypergeom.sf(threshold(k, tau) - 1, n[row], c[row], k)
                assert got[row, col, t] == pytest.approx(want, rel=1e-8, abs=1e-12)


def test_threshold_rounds_before_the_ceiling():
    tau = 0.05 * 7  # a grid built by multiplying: 0.35000000000000003
    assert math.ceil(tau * 20) == 8
    assert threshold(20, tau) == 7
    assert threshold(8, 0.0) == 1
    assert threshold(7, 0.5) == 4


def test_mg_pass_is_the_paper_sum_of_g_pass():
    """(2/k) sum_{i=⌈k/2⌉+1}^{k} G-Pass@k_{i/k}, each term an exact fraction."""
    n = [n for n, _ in SMALL]
    c = [c for _, c in SMALL]
    ks = list(range(1, 13))
    got = mg_pass_at_k(n, c, ks)
    for row, (nn, cc) in enumerate(SMALL):
        for col, k in enumerate(ks):
            if k > nn:
                assert math.isnan(got[row, col])
                continue
            terms = [exact_tail(nn, cc, k, i) for i in range(math.ceil(k / 2) + 1, k + 1)]
            want = Fraction(2, k) * sum(terms, Fraction(0))
            assert got[row, col] == pytest.approx(float(want), abs=1e-13)


def test_cover_at_tau_exact():
    n = [n for n, _ in SMALL]
    c = [c for _, c in SMALL]
    got = cover_at_tau(n, c, TAU_GRID)
    for row, (nn, cc) in enumerate(SMALL):
        for col, tau in enumerate(TAU_GRID):
            assert got[row, col] == float(Fraction(cc, nn) >= Fraction(str(tau)))


@pytest.mark.parametrize("k", [1, 4, 32])
def test_plug_in_pass_at_k_is_the_beta_1_k_mean_of_cover(k):
    """Dragoi et al.: mean_i 1-(1-p_i)^k = ∫ cover@τ k(1-τ)^(k-1) dτ with p_i = c_i/n_i.

    cover@τ is a step function of τ: integrate it numerically (scipy.quad between its
    jumps) under scipy's Beta(1, k) density, and exactly as a sum of Beta CDF steps."""
    rng = np.random.default_rng(1)
    n = rng.integers(1, 40, size=25)
    c = rng.integers(0, n + 1)
    plug_in = np.mean(1 - (1 - c / n) ** k)
    density = stats.beta(1, k).pdf
    jumps = sorted({0.0, 1.0, *(c / n).tolist()})
    numeric = 0.0
    for lo, hi in itertools.pairwise(jumps):
        mid = (lo + hi) / 2  # cover@τ is constant on (lo, hi]
        cover = cover_at_tau(n, c, [mid]).mean()
        numeric += cover * integrate.quad(density, lo, hi)[0]
    assert numeric == pytest.approx(plug_in, abs=1e-10)
    # Exactly: each problem contributes P(τ <= p_i) = Beta(1, k) CDF at p_i.
    assert np.mean(stats.beta(1, k).cdf(c / n)) == pytest.approx(plug_in, abs=1e-12)
    # And on a fine τ grid our cover curve gives the same integral (midpoint rule).
    grid = (np.arange(20000) + 0.5) / 20000
    riemann = (cover_at_tau(n, c, grid).mean(axis=0) * density(grid)).mean()
    assert riemann == pytest.approx(plug_in, abs=2e-3 * k)


def test_bad_inputs():
    with pytest.raises(ValueError):
        pass_hat_k([3], [4], [1])
    with pytest.raises(ValueError):
        g_pass_at_k([3], [1], [1], [1.5])
    with pytest.raises(ValueError):
        cover_at_tau([0], [0], [0.5])
