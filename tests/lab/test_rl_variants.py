"""PPO's GAE and the exploration-preserving advantages, each against an independent computation:
brute force over k-subsets with exact fractions, a direct double sum, or the paper's formula by hand."""

from fractions import Fraction
from itertools import combinations
from math import comb

import pytest
import torch

from leash.lab.rl import Group, advantages, gae, pass_at_k_advantage, pkpo_rewards

GROUPS = [[1, 0, 0, 0, 0, 1], [1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 1], [1, 0, 1, 1, 1, 1]]


def subset_max_means(r: list[int], k: int) -> tuple[Fraction, list[Fraction]]:
    """Over all k-subsets S of the group: mean of max_S r, and per sample the mean over the S holding it."""
    subsets = list(combinations(range(len(r)), k))
    best = {s: Fraction(max(r[i] for i in s)) for s in subsets}
    mean = sum(best.values(), Fraction(0)) / len(subsets)
    per = [sum(v for s, v in best.items() if i in s) / sum(i in s for s in subsets) for i in range(len(r))]
    return mean, per


@pytest.mark.parametrize("k", [2, 3, 4])
def test_pass_at_k_advantage_is_the_subset_average_of_the_normalised_group_reward(k):
    """Chen et al.'s analytical advantage = each sample's mean over the k-subsets holding it of
    (max_S r - mean) / std, mean and std over all k-subsets (the population std)."""
    got = pass_at_k_advantage(torch.tensor(GROUPS, dtype=torch.float64), k)
    for row, r in enumerate(GROUPS):
        subsets = list(combinations(range(len(r)), k))
        best = {s: Fraction(max(r[i] for i in s)) for s in subsets}
        mean = sum(best.values(), Fraction(0)) / len(subsets)
        var = sum(((v - mean) ** 2 for v in best.values()), Fraction(0)) / len(subsets)
        for i in range(len(r)):
            holding = [v for s, v in best.items() if i in s]
            gap = sum(holding, Fraction(0)) / len(holding) - mean
            expected = 0.0 if var == 0 else float(gap) / float(var) ** 0.5  # var 0: every subset passes
            assert float(got[row, i]) == pytest.approx(expected, abs=1e-12), (r, k, i)


def test_pass_at_k_advantage_is_zero_without_signal():
    r = torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0]])
    got = pass_at_k_advantage(r, 4)  # k = G: one correct sample makes every 4-subset pass
    assert torch.all(got == 0)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_pkpo_rewards_average_to_the_unbiased_pass_at_k(k):
    """(n/k) r~_i is the mean over the k-subsets holding i of max_S r; (1/k) sum_i r~_i = rho(n, c, k)."""
    got = pkpo_rewards(torch.tensor(GROUPS, dtype=torch.float64), k)
    for row, r in enumerate(GROUPS):
        n, c = len(r), sum(r)
        mean, per = subset_max_means(r, k)
        assert mean == 1 - Fraction(comb(n - c, k), comb(n, k))
        assert float(got[row].sum()) / k == pytest.approx(float(mean), abs=1e-12)
        for i in range(n):
            assert float(got[row, i]) * n / k == pytest.approx(float(per[i]), abs=1e-12)


def test_pkpo_anneals_k_from_half_the_group_to_one():
    r = torch.tensor([GROUPS[0]], dtype=torch.float64)
    for progress, k in [(0.0, 3), (0.99, 1)]:
        expected = pkpo_rewards(r, k)
        expected = expected - expected.mean()
        got = advantages("pkpo", r, Group(progress=progress))
        assert torch.allclose(got, expected)
    # At k = 1 the transformed rewards are r / n: centred, the correct ones get (1 - c/n) / n.
    got = advantages("pkpo", r, Group(progress=0.99))
    assert float(got[0, 0]) == pytest.approx((1 - 2 / 6) / 6)


def test_w_reinforce_by_hand():
    got = advantages("w_reinforce", torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    assert got[0].tolist() == pytest.approx([0.1, -1.0, -1.0, 0.1])


def test_unlikeliness_reward_by_hand():
    """G = 4, correct samples 0, 1, 3 with log-probs -1, -3, -2: ranks 0, 2, 1 (most likely first),
    rewards 1 - 0.25 (4 - rank) / 4 = 0.75, 0.875, 0.8125; the wrong one keeps 0; then GRPO."""
    r = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    group = Group(logp=torch.tensor([[-1.0, -3.0, -0.5, -2.0]]))
    shaped = torch.tensor([0.75, 0.875, 0.0, 0.8125])
    expected = (shaped - shaped.mean()) / (shaped.std() + 1e-4)
    assert torch.allclose(advantages("unlikely", r, group)[0], expected)
    # The rarest correct sample gets the largest advantage, the most likely correct one the smallest.
    got = advantages("unlikely", r, group)[0].tolist()
    assert got[1] > got[3] > got[0] > got[2]


def test_answer_bonus_by_hand():
    """Answers a, a, a, b (b wrong), c: m = 3, 3, 3, 1, 1 of G = 5; r~ = r - 0.5 m / 5."""
    r = torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.0]])
    group = Group(answers=[["a", "a", "a", "b", "c"]])
    shaped = torch.tensor([1 - 0.3, 1 - 0.3, 1 - 0.3, 0 - 0.1, 1 - 0.1])
    expected = (shaped - shaped.mean()) / (shaped.std() + 1e-4)
    got = advantages("answer_bonus", r, group)[0]
    assert torch.allclose(got, expected) and got[4] > got[0] > got[3]


def test_gae_against_the_direct_sum():
    """A_t = sum_l (gamma lam)^l delta_{t+l} within each row's valid prefix, V = 0 past its end."""
    torch.manual_seed(0)
    values = torch.randn(3, 5, dtype=torch.float64)
    rewards = torch.zeros(3, 5, dtype=torch.float64)
    lengths = [5, 3, 1]
    mask = torch.zeros(3, 5, dtype=torch.float64)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        rewards[row, n - 1] = float(row % 2 == 0)
    gamma, lam = 0.9, 0.8
    got = gae(rewards, values * mask, mask, gamma, lam)
    for row, n in enumerate(lengths):
        v = [float(values[row, t]) if t < n else 0.0 for t in range(n + 1)]
        delta = [float(rewards[row, t]) + gamma * v[t + 1] - v[t] for t in range(n)]
        for t in range(5):
            expected = sum((gamma * lam) ** j * delta[t + j] for j in range(n - t)) if t < n else 0.0
            assert float(got[row, t]) == pytest.approx(expected, abs=1e-12)
    # gamma = lam = 1: the advantage is the return minus the value (Monte Carlo).
    mc = gae(rewards, values * mask, mask, 1.0, 1.0)
    assert float(mc[0, 2]) == pytest.approx(float(rewards[0].sum() - values[0, 2]))
