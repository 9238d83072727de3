"""Scoring with vLLM's offline engine: prompt log-probs over token ids.

The same quantities as the `hf` scorer (see `leash.scoring`), from
`SamplingParams(max_tokens=1, prompt_logprobs=K)` on `{"prompt_token_ids": prompt + completion}`:
the prompt and the completion are tokenised separately with the scorer's tokenizer
(no special tokens added), exactly as the `hf` scorer does, and the ids go to the engine
as they are: nothing is decoded and re-tokenised. vLLM's prompt log-probs are the
model's raw log-probs (T = 1).

    logprob_sum        = sum_i log p(t_i | prompt, t_<i)      (K = 0: the token's own log-prob)
    token_entropy_mean = (1/n) sum_i H(p(. | prompt, t_<i))  only with the full vocabulary

Entropy needs every token's probability: `full_vocab=True` asks for K = -1 (the engine
is built with `max_logprobs=-1`), which returns one entry per vocabulary token per
position, fine for small vocabularies and slow for 150k-token ones. Without it the
entropy is NaN (not computed); a top-K sum would be an approximation and is never
stored as the entropy. A temperature T != 1 also needs the full vocabulary:
log p_T = log_softmax(log p / T) over all tokens.
"""

from __future__ import annotations

import math
from typing import Any

from leash.errors import LeashError
from leash.scoring import encode_pairs

__all__ = ["VLLMScorer", "position_scores", "summarise"]


def position_scores(logprobs: dict[int, float], token: int, temperature: float) -> tuple[float, float]:
    """(log p_T(token), entropy of p_T) from one position's full-vocabulary raw log-probs."""
    if temperature == 1.0:
        scaled = logprobs
    else:
        top = max(v / temperature for v in logprobs.values())
        norm = top + math.log(sum(math.exp(v / temperature - top) for v in logprobs.values()))
        scaled = {k: v / temperature - norm for k, v in logprobs.items()}
    entropy = -sum(math.exp(v) * v for v in scaled.values() if v > -math.inf)
    return scaled[token], entropy


def summarise(token_logprobs: list[float], entropies: list[float] | None, truncated: bool) -> dict[str, Any]:
    """One score row from the completion tokens' log-probs (and entropies, when known)."""
    n = len(token_logprobs)
    return {
        "logprob_sum": float(sum(token_logprobs)),
        "n_tokens": n,
        "token_entropy_mean": float(sum(entropies) / n) if entropies and n else math.nan,
        "truncated": truncated,
    }


def unscorable(prompt: list[int], completion: list[int], truncated: bool) -> dict[str, Any] | None:
    """The row for an empty completion (0 tokens) or an empty prompt (nothing predicts t_1), as hf."""
    if completion and prompt:
        return None
    return {
        "logprob_sum": 0.0 if not completion else math.nan,
        "n_tokens": len(completion),
        "token_entropy_mean": math.nan,
        "truncated": truncated,
    }


class VLLMScorer:
    """Score (prompt, completion) pairs with a vLLM engine (`leash score --backend vllm`)."""

    def __init__(
        self,
        model: str,
        temperature: float = 1.0,
        full_vocab: bool = False,
        dtype: str = "auto",
        max_model_len: int | None = None,
        enforce_eager: bool | None = None,
        engine: Any | None = None,
        **_: Any,
    ) -> None:
        from leash.sampling.vllm import load_engine

        if temperature != 1.0 and not full_vocab:
            raise LeashError(
                f"--temperature {temperature}: vLLM's prompt log-probs are at T = 1; rescaling them needs "
                "the full vocabulary (--full-vocab)"
            )
        self.temperature, self.full_vocab = temperature, full_vocab
        self.engine = engine or load_engine(
            model,
            dtype=dtype,
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            max_logprobs=-1 if full_vocab else None,
        )
        import vllm

        self.vllm = vllm
        self.tokenizer = self.engine.get_tokenizer()
        # vLLM generates at least one token after the prompt: the sequence must leave room for it.
        self.context = int(self.engine.llm_engine.model_config.max_model_len) - 1
        self.entropy = "full vocabulary" if full_vocab else "not computed (needs --full-vocab)"

    def score(self, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        encoded = encode_pairs(self.tokenizer, pairs, self.context)
        todo = [i for i, (p, c, t) in enumerate(encoded) if unscorable(p, c, t) is None]
        params = self.vllm.SamplingParams(
            max_tokens=1, temperature=0.0, prompt_logprobs=-1 if self.full_vocab else 0
        )
        outputs = self.engine.generate(
            [{"prompt_token_ids": encoded[i][0] + encoded[i][1]} for i in todo], params, use_tqdm=False
        )
        results: list[dict[str, Any] | None] = [unscorable(*e) for e in encoded]
        for i, out in zip(todo, outputs, strict=True):
            p, c, truncated = encoded[i]
            steps = out.prompt_logprobs[len(p) : len(p) + len(c)]
            if self.full_vocab:
                scored = [
                    position_scores({k: v.logprob for k, v in step.items()}, t, self.temperature)
                    for step, t in zip(steps, c, strict=True)
                ]
                results[i] = summarise([s[0] for s in scored], [s[1] for s in scored], truncated)
            else:
                results[i] = summarise(
                    [step[t].logprob for step, t in zip(steps, c, strict=True)], None, truncated
                )
        return [r for r in results if r is not None]

    def close(self) -> None:
        pass
