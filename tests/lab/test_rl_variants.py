"""PPO's GAE and the exploration-preserving advantages, each against an independent computation:
brute force over k-subsets with exact fractions, a direct double sum, or the paper's formula by hand."""

from collections import Counter
from fractions import Fraction
from itertools import combinations
from math import comb

import pytest
import torch

from leash.lab.rl import Group, advantages, gae, pass_at_k_advantage, pkpo_rewards, tally_answers

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


def grpo_by_hand(shaped: list[Fraction]) -> list[float]:
    """(x - mean) / (sample std + 1e-4), the std with n - 1 as torch.std has it."""
    mean = sum(shaped, Fraction(0)) / len(shaped)
    var = sum(((x - mean) ** 2 for x in shaped), Fraction(0)) / (len(shaped) - 1)
    return [float(x - mean) / (float(var) ** 0.5 + 1e-4) for x in shaped]


def test_unlikeliness_reward_by_hand():
    """G = 4, samples 0, 1, 3 correct, 2 wrong. Mean token log-probs (logp / tokens) -4/4, -3/1, -2/1,
    -4/8 = -1, -3, -2, -0.5: ascending ranks over the whole group 2, 0, 1, 3 (0 = least likely), so
    r~ = r (1 - 0.25 rank / 4) = 7/8, 1, 0, 13/16; then GRPO. (The sums -4, -3, -2, -4 would order
    them otherwise, and ranking the correct ones alone would give 15/16 to sample 0 and 7/8 to 3.)"""
    r = torch.tensor([[1.0, 1.0, 0.0, 1.0]], dtype=torch.float64)
    group = Group(
        logp=torch.tensor([[-4.0, -3.0, -2.0, -4.0]], dtype=torch.float64),
        tokens=torch.tensor([[4.0, 1.0, 1.0, 8.0]], dtype=torch.float64),
    )
    shaped = [Fraction(7, 8), Fraction(1), Fraction(0), Fraction(13, 16)]
    got = advantages("unlikely", r, group)[0].tolist()
    assert got == pytest.approx(grpo_by_hand(shaped), abs=1e-12)
    # The least likely correct sample gets the largest advantage, the most likely correct one the smallest.
    assert got[1] > got[0] > got[3] > got[2]


def test_unlikeliness_ties_keep_the_sample_order():
    """All four equally likely: ranks 0, 1, 2, 3 in sample order, r~ = 1, 15/16, 7/8, 13/16."""
    r = torch.ones(1, 4, dtype=torch.float64)
    group = Group(logp=torch.full((1, 4), -2.0, dtype=torch.float64), tokens=torch.full((1, 4), 2.0))
    shaped = [Fraction(1), Fraction(15, 16), Fraction(7, 8), Fraction(13, 16)]
    assert advantages("unlikely", r, group)[0].tolist() == pytest.approx(grpo_by_hand(shaped), abs=1e-12)


def test_answer_bonus_by_hand():
    """Answers a, a, a, b (b wrong), c: m = 3, 3, 3, 1, 1 of G = 5; r~ = r - 0.5 m / 5."""
    r = torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.0]])
    group = Group(answers=[["a", "a", "a", "b", "c"]])
    shaped = torch.tensor([1 - 0.3, 1 - 0.3, 1 - 0.3, 0 - 0.1, 1 - 0.1])
    expected = (shaped - shaped.mean()) / (shaped.std() + 1e-4)
    got = advantages("answer_bonus", r, group)[0]
    assert torch.allclose(got, expected) and got[4] > got[0] > got[3]


def test_answer_ucb_by_hand():
    """A = GRPO(r) + 0.5 (min(1, 1/sqrt(N)) - 0.5). Row 0: N = 0, 1, 4, 9 give bonuses 1/2, 1/2, 0,
    1/3 - 1/2, i.e. 1/4, 1/4, 0, -1/12 after c; its rewards 1, 0, 1, 0 have GRPO +-1/2 / sqrt(1/3).
    Row 1, all wrong (GRPO 0): N = 16, 0, 25, 16 give (1/4 - 1/2) / 2 = -1/8, 1/4, (1/5 - 1/2) / 2 =
    -3/20, -1/8: the bonus alone moves a flat group."""
    r = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    group = Group(seen=[[0, 1, 4, 9], [16, 0, 25, 16]])
    got = advantages("answer_ucb", r, group).tolist()
    grpo = [x / ((1 / 3) ** 0.5 + 1e-4) for x in (0.5, -0.5, 0.5, -0.5)]
    bonus = [Fraction(1, 4), Fraction(1, 4), Fraction(0), Fraction(-1, 12)]
    assert got[0] == pytest.approx([g + float(b) for g, b in zip(grpo, bonus, strict=True)], abs=1e-12)
    flat = [Fraction(-1, 8), Fraction(1, 4), Fraction(-3, 20), Fraction(-1, 8)]
    assert got[1] == pytest.approx([float(b) for b in flat], abs=1e-12)
    # The bonus (at most 1/4, at least -1/4) cannot lift a wrong sample above a right one in a mixed group.
    assert min(got[0][0], got[0][2]) > max(got[0][1], got[0][3])


def test_tally_answers_counts_earlier_steps_per_task():
    """Counts are keyed by (task, answer) and cover earlier calls only; None is one more answer."""
    history: Counter = Counter()
    first = tally_answers(history, ["t1", "t2"], [["a", "a", "b", None], ["a", "c", "c", "c"]])
    assert first == [[0, 0, 0, 0], [0, 0, 0, 0]]  # nothing before; this step does not count against itself
    second = tally_answers(history, ["t2", "t1"], [["c", "a", "d", None], ["a", "a", "b", "e"]])
    assert second == [[3, 1, 0, 0], [2, 2, 1, 0]]  # t2's c three times, t1's a twice: tasks kept apart
    assert history[("t1", "a")] == 4 and history[("t2", "c")] == 4 and history[("t1", None)] == 1


def test_rl_train_passes_the_answer_tally_across_steps(monkeypatch):
    """Two steps of the real loop on one task with a tiny model whose output layer is set by hand to
    write "7" or "8" (one token each, even odds): what the advantage sees as `seen` at step 2 is, per
    sample, how many of step 1's eight samples gave its answer; at step 1, zeros."""
    from leash.lab.rl import ALGOS, Algo, RLConfig, rl_train
    from leash.lab.tiny import char_tokenizer, tiny_llama
    from leash.tasks import load_tasks

    calls: list[Group] = []

    def spy(r, g):
        calls.append(g)
        return torch.zeros_like(r)

    monkeypatch.setitem(ALGOS, "spy", Algo(spy))
    tokenizer = char_tokenizer()
    model = tiny_llama(tokenizer, hidden=32, layers=1, heads=2)
    model.lm_head = torch.nn.Linear(32, len(tokenizer))  # logits = bias: 20 for "7" and "8", 0 elsewhere
    torch.nn.init.zeros_(model.lm_head.weight)
    torch.nn.init.zeros_(model.lm_head.bias)
    with torch.no_grad():
        model.lm_head.bias[tokenizer.convert_tokens_to_ids(["7", "8"])] = 20.0
    config = RLConfig(algo="spy", steps=2, prompts_per_step=2, group=4, max_tokens=1, beta=0.0, epochs=1)
    rl_train(model, model, tokenizer, load_tasks("lab:arith?size=1&seed=9"), config)
    assert len(calls) == 2 and calls[0].seen == [[0] * 4, [0] * 4]
    before = [a for row in calls[0].answers for a in row]
    assert calls[1].seen == [[before.count(a) for a in row] for row in calls[1].answers]
    assert {a for row in calls[1].answers for a in row} <= {"7", "8"}
    assert sum(map(sum, calls[1].seen)) > 0  # so the check above compared real counts, not zeros


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
