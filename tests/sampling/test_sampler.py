"""The seeded sampler: inverse-CDF draws reproduce the truncated distribution exactly."""

import numpy as np
import pytest
import torch

from leash.sampling.hf import sample_tokens
from leash.sampling.params import SamplingParams, sample_seed, uniforms


def brute_force(logits, temperature, top_k, top_p):
    p = np.exp(logits / temperature - np.max(logits / temperature))
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    keep = np.zeros_like(p, dtype=bool)
    if top_k is not None:
        keep[order[:top_k]] = True
    else:
        keep[:] = True
    p = np.where(keep, p, 0.0)
    p /= p.sum()
    mass, kept = 0.0, np.zeros_like(keep)
    for i in order:
        if p[i] == 0 or mass >= top_p:
            break
        kept[i] = True
        mass += p[i]
    q = np.where(kept, p, 0.0)
    return q / q.sum()


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"), [(1.0, None, 1.0), (0.6, None, 0.95), (0.7, 4, 0.8), (1.3, 2, 1.0)]
)
def test_inverse_cdf_draws_match_the_distribution(temperature, top_k, top_p):
    logits = np.array([2.0, 1.5, 0.3, -1.0, 0.9, -3.0, 1.49])
    expected = brute_force(logits, temperature, top_k, top_p)
    m = 200_000
    u = torch.from_numpy((np.arange(m) + 0.5) / m)  # a uniform grid: counts are exact up to 1/m
    scores = torch.tensor(logits, dtype=torch.float32).expand(m, -1)
    tokens = sample_tokens(scores, u, temperature, top_k, top_p).numpy()
    observed = np.bincount(tokens, minlength=len(logits)) / m
    assert np.allclose(observed, expected, atol=2 / m + 1e-6)


def test_temperature_zero_is_greedy():
    scores = torch.tensor([[0.1, 3.0, 2.0], [5.0, 0.0, 1.0]])
    assert sample_tokens(scores, torch.tensor([0.99, 0.01]), 0.0, None, 1.0).tolist() == [1, 0]


def test_seeds_and_uniform_streams_are_stable_and_distinct():
    a = sample_seed(0, "task", 3)
    assert a == sample_seed(0, "task", 3) and 0 <= a < 2**63
    assert len({sample_seed(s, t, i) for s in (0, 1) for t in ("x", "y") for i in range(50)}) == 200
    u = uniforms([a, a + 1], 1000)
    assert np.array_equal(u[0], uniforms([a], 1000)[0])
    assert 0.45 < u.mean() < 0.55 and not np.array_equal(u[0], u[1])


def test_bad_params():
    with pytest.raises(ValueError):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError):
        SamplingParams(max_tokens=0)
