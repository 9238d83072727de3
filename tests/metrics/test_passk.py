"""pass@k and its curves against exact fractions and brute force."""

from fractions import Fraction
from itertools import combinations
from math import comb

import numpy as np
import pytest

from leash.metrics import avg_at_n, crossover_k, maj_at_k, mean_with_band, pass_at_k


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_published_anchor_values():
    got = pass_at_k([16384, 128], [1, 5], [8192, 64])
    assert got[0, 0] == pytest.approx(0.5, abs=1e-15)
    assert got[1, 1] == pytest.approx(0.9711811, abs=5e-8)


def test_matches_exact_fractions_on_random_cells_up_to_16384():
    rng = np.random.default_rng(7)
    cells = []
    for _ in range(60):
        n = int(rng.choice([1, 2, 7, 100, 1000, 8192, 16384]))
        c = int(rng.integers(0, n + 1))
        ks = sorted({int(k) for k in rng.integers(1, n + 1, size=3)} | {1, n})
        cells.append((n, c, ks))
    worst = 0.0
    for n, c, ks in cells:
        got = pass_at_k([n], [c], ks)[0]
        for k, value in zip(ks, got, strict=True):
            worst = max(worst, abs(value - float(exact_pass_at_k(n, c, k))))
    assert worst < 1e-12


def test_every_k_for_many_problems_at_once_matches_exact():
    rng = np.random.default_rng(3)
    n = np.array([40, 40, 25, 40, 1])
    c = np.array([0, 40, 3, 17, 1])
    ks = np.arange(1, 41)
    got = pass_at_k(n, c, ks)
    for i in range(len(n)):
        for j, k in enumerate(ks):
            if k > n[i]:
                assert np.isnan(got[i, j])  # never extrapolated
            else:
                assert got[i, j] == pytest.approx(float(exact_pass_at_k(n[i], c[i], k)), abs=1e-14)
    assert rng is not None


def test_small_blocks_give_the_same_answer(monkeypatch):
    import leash.metrics.passk as passk

    n, c = np.full(50, 300), np.arange(50) * 6
    ks = [1, 5, 77, 300]
    whole = pass_at_k(n, c, ks)
    monkeypatch.setattr(passk, "_BLOCK_CELLS", 301)
    assert np.array_equal(pass_at_k(n, c, ks), whole)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        pass_at_k([5], [6], [1])
    with pytest.raises(ValueError):
        pass_at_k([5], [1], [0])


def test_mean_with_band_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    values = rng.random((200, 3))
    mean, lo, hi = mean_with_band(values, n_boot=500, seed=11)
    again = mean_with_band(values, n_boot=500, seed=11)
    assert np.array_equal(lo, again[1]) and np.array_equal(hi, again[2])
    assert np.allclose(mean, values.mean(axis=0))
    assert np.all(lo <= mean) and np.all(mean <= hi)
    # The band's width is about 2 x 1.96 standard errors of the mean.
    se = values.std(axis=0, ddof=1) / np.sqrt(200)
    assert np.allclose(hi - lo, 2 * 1.96 * se, rtol=0.2)


def test_mean_is_missing_where_any_problem_lacks_k():
    values = pass_at_k([4, 8], [1, 2], [1, 4, 8])
    mean, lo, hi = mean_with_band(values, n_boot=10)
    assert not np.isnan(mean[:2]).any()
    assert np.isnan(mean[2]) and np.isnan(lo[2]) and np.isnan(hi[2])


def test_avg_at_n():
    assert avg_at_n([4, 10], [1, 5]) == pytest.approx((0.25 + 0.5) / 2)


def test_crossover_k_brute_force():
    ks = np.arange(1, 33)
    base = pass_at_k([32, 32, 32], [2, 20, 0], ks)
    tuned = pass_at_k([32, 32, 32], [8, 20, 5], ks)
    got = crossover_k(base, tuned, ks)
    # Problem 0: tuned leads at k=1 but base can never exceed it (fewer correct): none.
    assert np.isnan(got[0])
    assert np.isnan(got[1])  # equal curves: nobody overtakes
    assert np.isnan(got[2])
    # A crossing exists when the curves come from different shapes.
    b = np.array([[0.1, 0.5, 0.9]])
    t = np.array([[0.3, 0.5, 0.6]])
    assert crossover_k(b, t, [1, 2, 4])[0] == 4
    for row_b, row_t in zip(
        np.random.default_rng(1).random((30, 6)), np.random.default_rng(2).random((30, 6)), strict=True
    ):
        expected = np.nan
        if row_t[0] > row_b[0]:
            hits = [
                k
                for k, (x, y) in zip([1, 2, 3, 4, 5, 6], zip(row_b, row_t, strict=True), strict=True)
                if x > y
            ]
            expected = hits[0] if hits else np.nan
        got_one = crossover_k(row_b[None], row_t[None], [1, 2, 3, 4, 5, 6])[0]
        assert (np.isnan(expected) and np.isnan(got_one)) or got_one == expected


def test_maj_at_k_against_brute_force():
    rng = np.random.default_rng(5)
    n_problems, n = 6, 9
    answers = rng.integers(-1, 3, size=(n_problems, n))  # -1: no answer
    truth = rng.random((n_problems, 3)) < 0.4
    problem = np.repeat(np.arange(n_problems), n)
    rank = np.tile(np.arange(n), n_problems)
    # Codes must be numbered by first appearance for the tie rule; renumber.
    codes = np.full_like(answers, -1)
    truth_by_code = np.zeros((n_problems, 3), dtype=bool)
    for p in range(n_problems):
        order: list[int] = []
        for a in answers[p]:
            if a >= 0 and a not in order:
                order.append(int(a))
        for j, a in enumerate(answers[p]):
            codes[p, j] = order.index(a) if a >= 0 else -1
        for code, a in enumerate(order):
            truth_by_code[p, code] = truth[p, a]
    ks = [1, 2, 5, 9, 10]
    got = maj_at_k(problem, rank, codes.ravel(), truth_by_code, n_problems, ks)
    for p in range(n_problems):
        for j, k in enumerate(ks):
            if k > n:
                assert np.isnan(got[p, j])
                continue
            first = [int(a) for a in answers[p, :k] if a >= 0]
            if not first:
                assert got[p, j] == 0
                continue
            counts = {a: first.count(a) for a in first}
            best = max(counts.values())
            winner = next(a for a in first if counts[a] == best)  # first seen wins ties
            assert got[p, j] == float(truth[p, winner])


def test_unbiasedness_by_enumerating_subsets():
    # pass@k is the fraction of k-subsets of the n samples holding a correct one.
    outcomes = [1, 0, 0, 1, 0, 0, 0]
    n, c = len(outcomes), sum(outcomes)
    for k in range(1, n + 1):
        subsets = list(combinations(range(n), k))
        hit = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
        assert pass_at_k([n], [c], [k])[0, 0] == pytest.approx(hit, abs=1e-15)
