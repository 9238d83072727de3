"""RL with verifiable rewards for the lab's tiny models, nanoGPT-style: one loop, the
algorithms differing only in their advantage and in how the loss is clipped and averaged.

Each step: P prompts, G samples each from the current policy (temperature 1), a
0/1 reward from the grading stage's verifier, an advantage per sample, then
`epochs` updates of the clipped policy-gradient loss

    L = -agg( min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) ) + beta KL(pi || pi_ref)

with rho = pi(token) / pi_old(token) and the k3 estimator of the KL to the base.

| algo         | advantage A (rewards r, shape [P x G])            | clip (low, high) | agg           |
| ------------ | ------------------------------------------------- | ---------------- | ------------- |
| grpo         | (r - mean_group) / (std_group + eps)  (Shao 2024) | 0.2, 0.2         | sequence mean |
| rloo         | r - mean of the group's other samples (Ahmadian)  | 0.2, 0.2         | sequence mean |
| reinforce_pp | (r - mean_batch) / (std_batch + eps)  (Hu 2025)   | 0.2, 0.2         | token mean    |
| dapo         | (r - mean_group) / (std_group + eps); groups with  | 0.2, 0.28        | token mean    |
|              | all-equal rewards dropped (Yu 2025)                |                  |               |
| prorl        | as dapo, plus the KL term to a reference that is   | 0.2, 0.4         | token mean    |
|              | reset to the current policy every R steps          |                  |               |

ProRL (Liu et al. 2025, "ProRL: Prolonged Reinforcement Learning Expands Reasoning
Boundaries", arXiv 2505.24864): GRPO with DAPO's decoupled clip and dynamic sampling, a
KL penalty beta KL(pi || pi_ref), and a *hard reset* every R steps: pi_ref <- pi (a copy
of the current policy) and the optimizer's state reinitialised, so the KL term restrains
each stretch of training without pulling the policy back to the start. Right after a
reset pi = pi_ref, so the KL term is exactly 0 (`history[step]["kl"]`, measured before
the step's first update). `RLConfig.reset_every` sets R for any algorithm (0: never).

PPO proper needs a learned critic; it is not offered (see docs/lab.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leash.grading import GradeItem, get_verifier
from leash.tasks import Task

__all__ = ["ALGOS", "RLConfig", "advantages", "kl_k3", "rl_train"]

EPS = 1e-4


def _grpo(r: Any) -> Any:  # [P x G] -> [P x G]
    return (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + EPS)


def _rloo(r: Any) -> Any:
    g = r.shape[1]
    return r - (r.sum(1, keepdim=True) - r) / (g - 1)


def _reinforce_pp(r: Any) -> Any:
    return (r - r.mean()) / (r.std() + EPS)


@dataclass(frozen=True)
class Algo:
    advantage: Callable[[Any], Any]
    clip_low: float = 0.2
    clip_high: float = 0.2
    token_mean: bool = False  # average the loss over tokens (else per sequence, then over sequences)
    drop_flat_groups: bool = False  # DAPO's dynamic sampling: groups with no signal carry no gradient
    reset_every: int = 0  # ProRL: reset the reference (and optimizer) every R steps; 0: never


ALGOS: dict[str, Algo] = {
    "grpo": Algo(_grpo),
    "rloo": Algo(_rloo),
    "reinforce_pp": Algo(_reinforce_pp, token_mean=True),
    "dapo": Algo(_grpo, clip_high=0.28, token_mean=True, drop_flat_groups=True),
    "prorl": Algo(_grpo, clip_high=0.4, token_mean=True, drop_flat_groups=True, reset_every=50),
}


def advantages(algo: str, rewards: Any) -> Any:
    """The algorithm's advantage for rewards [P x G] (a torch tensor)."""
    return ALGOS[algo].advantage(rewards)


def kl_k3(logp: Any, ref: Any) -> Any:
    """Per-token k3 estimate of KL(pi || pi_ref): exp(d) - d - 1 with d = log pi_ref - log pi (>= 0,
    0 where pi = pi_ref; Schulman's k3)."""
    import torch

    delta = ref - logp
    return torch.exp(delta) - delta - 1


@dataclass(frozen=True)
class RLConfig:
    algo: str = "grpo"
    steps: int = 100
    prompts_per_step: int = 16  # P
    group: int = 8  # G samples per prompt
    lr: float = 3e-4  # at 5e-4 without KL, GRPO collapsed onto a few answers in the lab (docs/lab.md)
    beta: float = 0.05  # KL to the base (k3); DAPO and Dr. GRPO use none: pass 0
    epochs: int = 2  # updates per batch of samples (what makes the clip matter)
    max_tokens: int = 12
    seed: int = 0
    reset_every: int | None = None  # R: reset the reference to the policy every R steps (None: the
    # algorithm's default, 50 for prorl and never for the others; 0: never)
    save_every: int = 0  # call `checkpoint(step)` after every N steps (0: never)

    def resets(self) -> int:
        """R, the reference reset period in steps (0: never)."""
        return ALGOS[self.algo].reset_every if self.reset_every is None else self.reset_every


def _sequence_logprobs(model: Any, ids: Any, mask: Any, start: int) -> Any:
    """log pi(token) for every generated position: [N x (T - start)]."""
    import torch

    positions = (mask.cumsum(1) - 1).clamp(min=0)  # as generate() numbers left-padded rows
    logits = (
        model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, start - 1 : -1].float()
    )
    return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, start:].unsqueeze(-1)).squeeze(-1)


def rl_train(
    model: Any,
    reference: Any,
    tokenizer: Any,
    tasks: list[Task],
    config: RLConfig,
    checkpoint: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Tune `model` in place; returns per step the mean reward, the loss and the KL to the reference
    (before the step's first update). With `config.save_every` N, `checkpoint(s)` runs after step s
    for s = N, 2N, ... (s counts finished steps)."""
    import copy

    import torch

    if config.algo not in ALGOS:
        raise ValueError(f"unknown algo {config.algo!r}; choose one of {sorted(ALGOS)}")
    algo = ALGOS[config.algo]
    reset_every = config.resets()
    verifier = get_verifier(tasks[0].verifier or "arith")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    for step in range(config.steps):
        if reset_every and step > 0 and step % reset_every == 0:
            # ProRL's hard reset: the reference becomes the current policy, the optimizer starts afresh.
            reference = copy.deepcopy(model).eval()
            optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
        picks = torch.randint(len(tasks), (config.prompts_per_step,), generator=generator).tolist()
        batch = [tasks[i] for i in picks]
        # Prompts of one length per step keep the batch unpadded (the lab's prompts vary by a char or two).
        prompts = [tokenizer(t.question + "\n", add_special_tokens=False).input_ids for t in batch]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left padding for generation
            ids[row, width - len(p) :] = torch.tensor(p)
            mask[row, width - len(p) :] = 1
        ids = ids.repeat_interleave(config.group, 0)
        mask = mask.repeat_interleave(config.group, 0)
        torch.manual_seed(config.seed * 100_003 + step)
        model.eval()
        with torch.no_grad():
            out = model.generate(
                ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                max_new_tokens=config.max_tokens, pad_token_id=pad, eos_token_id=eos,
            )  # fmt: skip
        new = out[:, width:]
        # Generated positions up to and including the first EOS count; the rest is padding.
        is_eos = (new == eos).int()
        seen = torch.cumsum(is_eos, dim=1) - is_eos
        gen_mask = (seen == 0).float()
        texts = [tokenizer.decode(row, skip_special_tokens=True) for row in new]
        items = [GradeItem(t.task_id, text, t.reference) for t, text in zip(
            [b for b in batch for _ in range(config.group)], texts, strict=True)]  # fmt: skip
        rewards = torch.tensor([float(v.correct) for v in verifier.grade(items)]).view(
            len(batch), config.group
        )
        adv = algo.advantage(rewards)
        keep = torch.ones(len(batch), dtype=torch.bool)
        if algo.drop_flat_groups:
            keep = rewards.std(1) > 0
        weights = (keep.float().unsqueeze(1) * torch.ones_like(rewards)).view(-1)
        adv = adv.view(-1, 1)
        full_mask = torch.cat([mask, gen_mask.long()], dim=1)
        with torch.no_grad():
            old = _sequence_logprobs(model, out, full_mask, width)
            ref = _sequence_logprobs(reference, out, full_mask, width) if config.beta > 0 else None
            # KL(pi || pi_ref) per generated token before this step's updates (0 right after a reset).
            kl_value = math.nan  # no reference without a KL term (beta 0)
            if ref is not None:
                kl_value = float((kl_k3(old, ref) * gen_mask).sum() / gen_mask.sum().clamp(min=1))
        model.train()
        loss_value = 0.0
        if weights.sum() > 0:
            for _ in range(config.epochs):
                logp = _sequence_logprobs(model, out, full_mask, width)
                ratio = torch.exp(logp - old)
                clipped = torch.clamp(ratio, 1 - algo.clip_low, 1 + algo.clip_high)
                per_token = -torch.minimum(ratio * adv, clipped * adv)
                if ref is not None:
                    per_token = per_token + config.beta * kl_k3(logp, ref)
                m = gen_mask * weights.unsqueeze(1)
                if algo.token_mean:
                    loss = (per_token * m).sum() / m.sum().clamp(min=1)
                else:
                    per_seq = (per_token * m).sum(1) / gen_mask.sum(1).clamp(min=1)
                    loss = per_seq.sum() / weights.sum().clamp(min=1)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                loss_value = float(loss.detach())
        history.append({"step": step, "reward": float(rewards.mean()), "loss": loss_value, "kl": kl_value})
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss became {loss_value} at step {step}")
        if checkpoint is not None and config.save_every and (step + 1) % config.save_every == 0:
            model.eval()
            checkpoint(step + 1)
    model.eval()
    verifier.close()
    return history
