"""Scoring through an OpenAI-compatible server: prompt log-probs of token ids (vLLM's server).

The scorer's tokenizer (a local folder or `--tokenizer`) turns prompt and completion
into ids as the `hf` scorer does; `/v1/completions` receives the ids themselves
(`"prompt": [[ids...], ...]`, several sequences per request) with

    {"echo": true, "logprobs": 0, "max_tokens": 0}     the log-prob of each prompt token

or, with `full_vocab`, vLLM's extra field `"prompt_logprobs": -1` (the server must run
with `--max-logprobs -1`), which returns every vocabulary token's log-prob at each
position, hence the full-vocabulary entropy and any temperature. Without it the
entropy is NaN: a server gives at most the top-K log-probs per position, and a top-K
sum is not the entropy. Formulas in `leash.scoring.vllm`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.scoring import encode_pairs
from leash.scoring.vllm import position_scores, summarise, unscorable

__all__ = ["OpenAIScorer"]


class OpenAIScorer:
    """Score (prompt, completion) pairs through `/v1/completions` (`leash score --backend openai`)."""

    def __init__(
        self,
        model: str,
        temperature: float = 1.0,
        full_vocab: bool = False,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        tokenizer: str | None = None,
        served_model: str | None = None,
        context: int | None = None,
        retries: int = 5,
        timeout: float = 600.0,
        **_: Any,
    ) -> None:
        from leash.sampling.openai_api import OpenAIBackend
        from leash.sampling.params import SamplingParams

        if temperature != 1.0 and not full_vocab:
            raise LeashError(
                f"--temperature {temperature}: a server's prompt log-probs are at T = 1; rescaling them "
                "needs the full vocabulary (--full-vocab)"
            )
        source = tokenizer or (model if Path(model).exists() else None)
        if source is None:
            raise LeashError(
                f"scoring through a server needs the scorer's tokenizer: pass --tokenizer (model {model!r} "
                "is not a local folder)"
            )
        # The sampling client brings the retries, the backoff and the tokenizer loading.
        self.client = OpenAIBackend(
            model, SamplingParams(), base_url=base_url, api_key=api_key, tokenizer=source,
            served_model=served_model, retries=retries, timeout=timeout,
        )  # fmt: skip
        self.tokenizer = self.client.tokenizer
        self.temperature, self.full_vocab = temperature, full_vocab
        self.context = context or getattr(self.tokenizer, "model_max_length", None)
        if self.context is not None and self.context > 10**8:  # transformers' "no limit" sentinel
            self.context = None
        self.entropy = "full vocabulary" if full_vocab else "not computed (needs --full-vocab)"

    def score(self, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        encoded = encode_pairs(self.tokenizer, pairs, self.context)
        results: list[dict[str, Any] | None] = [unscorable(*e) for e in encoded]
        todo = [i for i, r in enumerate(results) if r is None]
        if not todo:
            return [r for r in results if r is not None]
        body: dict[str, Any] = {
            "model": self.client.model,
            "prompt": [encoded[i][0] + encoded[i][1] for i in todo],
            "max_tokens": 0,
            "temperature": 1.0,
            "echo": True,
            "logprobs": 0,
        }
        if self.full_vocab:
            body["prompt_logprobs"] = -1
        choices = sorted(self.client.post(body).get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != len(todo):
            raise LeashError(f"server returned {len(choices)} choices for {len(todo)} sequences to score")
        for i, choice in zip(todo, choices, strict=True):
            p, c, truncated = encoded[i]
            results[i] = self._row(choice, p, c, truncated)
        return [r for r in results if r is not None]

    def _row(self, choice: dict[str, Any], p: list[int], c: list[int], truncated: bool) -> dict[str, Any]:
        span = slice(len(p), len(p) + len(c))
        if self.full_vocab:
            steps = (choice.get("prompt_logprobs") or [])[span]
            if len(steps) != len(c):
                raise LeashError(
                    "server returned no prompt_logprobs: is it vLLM, run with --max-logprobs -1?"
                )
            scored = [
                position_scores({int(k): v["logprob"] for k, v in step.items()}, t, self.temperature)
                for step, t in zip(steps, c, strict=True)
            ]
            return summarise([s[0] for s in scored], [s[1] for s in scored], truncated)
        token_logprobs = ((choice.get("logprobs") or {}).get("token_logprobs") or [])[span]
        if len(token_logprobs) != len(c) or any(v is None for v in token_logprobs):
            raise LeashError("server did not echo the prompt's log-probs (echo + logprobs); is it vLLM?")
        return summarise([float(v) for v in token_logprobs], None, truncated)

    def close(self) -> None:
        self.client.close()
