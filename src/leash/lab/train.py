"""Supervised training of the lab's tiny models: pre-training, SFT on own samples, distillation.

All three are the same loop: next-token cross-entropy on the completion tokens
(the prompt is context, not target), AdamW, gradient clipping. What differs is the
data: a mixture of correct solutions of every mode and failed attempts (pretrain),
the model's own correct samples (sft-self), a stronger teacher's correct samples
(distill).
"""

from __future__ import annotations

import random
from typing import Any

from leash.grading.arith import evaluate
from leash.lab.tasks import MODES, _fill, arith_problems, prompt_of, solutions

__all__ = ["pretraining_corpus", "train_lm"]


def pretraining_corpus(
    size: int, seed: int, correct_share: float = 0.35, mode_weights: list[float] | None = None
) -> list[tuple[str, str]]:
    """(prompt, completion) pairs: with probability `correct_share` a correct expression,
    picked by the weight of its mode; otherwise a plausible attempt that misses."""
    rng = random.Random(seed)
    weights = dict(zip([m for m, _ in MODES], mode_weights or [w for _, w in MODES], strict=True))
    pairs = []
    for problem in arith_problems(size, seed):
        found = solutions(problem["numbers"], problem["target"])
        if found and rng.random() < correct_share:
            options = list(found)
            answer = rng.choices(options, [weights[found[o]] for o in options])[0]
        else:
            template = rng.choices(list(weights), list(weights.values()))[0]
            answer = _fill(template, tuple(rng.sample(problem["numbers"], 3)))
            result = evaluate(answer)
            if result is not None and result[0] == problem["target"]:
                continue  # an attempt that happens to be right is not a failed attempt
        pairs.append((prompt_of(problem), answer))
    return pairs


def train_lm(
    model: Any,
    tokenizer: Any,
    pairs: list[tuple[str, str]],
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Fit `model` to complete each prompt + "\\n" with completion + EOS; returns the losses."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    encoded = []
    for prompt, completion in pairs:
        p = tokenizer(prompt + "\n", add_special_tokens=False).input_ids
        c = [*tokenizer(completion, add_special_tokens=False).input_ids, tokenizer.eos_token_id]
        encoded.append((p + c, [-100] * len(p) + c))  # labels: only the completion is learned
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    for _ in range(steps):
        batch = [encoded[rng.randrange(len(encoded))] for _ in range(batch_size)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (seq, lab) in enumerate(batch):  # right padding
            ids[row, : len(seq)] = torch.tensor(seq)
            labels[row, : len(lab)] = torch.tensor(lab)
            mask[row, : len(seq)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses
