"""Answer entropy by hand; Fisher's exact test and BH against scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from leash.metrics import answer_entropy, benjamini_hochberg, fisher_exact


def test_answer_entropy_by_hand():
    # Problem 0: answers {a: 2, b: 1, NA: 1}; problem 1: one answer only; problem 2: none.
    h = answer_entropy([0, 0, 0, 1], [2, 1, 1, 7], 3)
    expected0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert h[0] == pytest.approx(expected0, abs=1e-15)
    assert h[1] == 0.0
    assert math.isnan(h[2])


def test_fisher_exact_matches_scipy():
    rng = np.random.default_rng(0)
    tables = [(0, 5, 5, 5), (5, 5, 0, 5), (0, 10, 0, 10), (3, 10, 7, 10), (1, 1000, 9, 1000)]
    for _ in range(200):
        nb, nt = (int(x) for x in rng.integers(1, 300, size=2))
        tables.append((int(rng.integers(0, nb + 1)), nb, int(rng.integers(0, nt + 1)), nt))
    cb, nb, ct, nt = (np.array(x) for x in zip(*tables, strict=True))
    got = fisher_exact(cb, nb, ct, nt)
    for i, (c1, n1, c2, n2) in enumerate(tables):
        expected = stats.fisher_exact([[c1, n1 - c1], [c2, n2 - c2]]).pvalue
        assert got[i] == pytest.approx(expected, rel=1e-6, abs=1e-300)


def test_fisher_exact_at_large_n():
    got = fisher_exact([100], [16384], [160], [16384])[0]
    expected = stats.fisher_exact([[100, 16284], [160, 16224]]).pvalue
    assert got == pytest.approx(expected, rel=1e-6)


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(1).random(300) ** 3
    assert np.allclose(benjamini_hochberg(p), stats.false_discovery_control(p), rtol=1e-12)
