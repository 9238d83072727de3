"""The `hf` backend: transformers' `generate` with leash's seeded sampler, CPU or CUDA.

`generate` runs greedy decoding over logits that `SeededSampler` has already
collapsed onto one token drawn from the sample's own uniform stream, so the KV
cache, EOS handling and stop strings are transformers' own, while every token is
drawn as in `params.py`: temperature, then top-k, then top-p, then the inverse CDF.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.sampling.backend import Completion, Request, register_backend
from leash.sampling.params import SamplingParams, uniforms

__all__ = ["HFBackend", "check_model_folder", "load_model_and_tokenizer", "sample_tokens"]

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def check_model_folder(model: str) -> None:
    """A local model folder must exist, hold config.json and a tokenizer (one line otherwise)."""
    folder = Path(model)
    if not folder.exists() and model.startswith(("/", "./", "../", "~")):
        raise LeashError(f"model folder {model} does not exist; check the path")
    if folder.exists():
        if not folder.is_dir() or not (folder / "config.json").exists():
            raise LeashError(f"model {model}: not a model folder (no config.json)")
        if not any((folder / name).exists() for name in _TOKENIZER_FILES):
            raise LeashError(
                f"model folder {model} has no tokenizer ({', '.join(_TOKENIZER_FILES)}); "
                "save one there with tokenizer.save_pretrained(...)"
            )


def load_model_and_tokenizer(model: str, device: str | None = None, dtype: str = "auto") -> tuple[Any, Any]:
    """AutoModelForCausalLM and AutoTokenizer from a folder or a hub id, with clear errors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    check_model_folder(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        lm: Any = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:200]
        raise LeashError(
            f"cannot load model {model!r} ({first}); pass a local folder or a reachable hub id"
        ) from err
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    lm.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return lm, tokenizer


def sample_tokens(scores: Any, u: Any, temperature: float, top_k: int | None, top_p: float) -> Any:
    """One token per row of `scores` [B x V], drawn with the uniforms `u` [B] (inverse CDF)."""
    import torch

    if temperature == 0:
        return scores.argmax(dim=-1)
    logits = scores.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    sorted_p, order = torch.sort(probs, dim=-1, descending=True)
    if top_p < 1.0:
        # Keep the most likely tokens until their mass reaches top_p (the crossing one included).
        before = torch.cumsum(sorted_p, dim=-1) - sorted_p
        sorted_p = sorted_p * (before < top_p)
    cdf = torch.cumsum(sorted_p, dim=-1)
    target = (u.to(cdf.dtype) * cdf[:, -1]).unsqueeze(-1)
    pos = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    return order.gather(-1, pos).squeeze(-1)


class SeededSampler:
    """A logits processor that leaves only the sampled token finite (then greedy picks it)."""

    def __init__(self, u: Any, prompt_len: int, params: SamplingParams) -> None:
        self.u, self.prompt_len, self.params = u, prompt_len, params
        self.logprobs: list[Any] = []  # per step: [B] log p(token) under the raw model (T = 1)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        step = input_ids.shape[1] - self.prompt_len
        token = sample_tokens(
            scores, self.u[:, step], self.params.temperature, self.params.top_k, self.params.top_p
        )
        self.logprobs.append(
            torch.log_softmax(scores.float(), dim=-1).gather(1, token.unsqueeze(-1)).squeeze(-1)
        )
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, token.unsqueeze(-1), 0.0)


class HFBackend:
    name = "hf"
    seeded = True
    group_size = 1

    def __init__(
        self,
        model: str,
        params: SamplingParams,
        device: str | None = None,
        dtype: str = "auto",
        **_: Any,
    ) -> None:
        self.params = params
        self.model, self.tokenizer = load_model_and_tokenizer(model, device, dtype)
        config = self.model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}

    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    def prompt_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=False).input_ids)

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        return [self._generate_one(r) for r in requests]

    def _generate_one(self, request: Request) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        device = self.model.device
        ids = self.tokenizer(request.prompt, add_special_tokens=False, return_tensors="pt").input_ids.to(
            device
        )
        prompt_len = ids.shape[1]
        budget = self.params.max_tokens
        context = self.context_length()
        if context is not None:
            budget = max(1, min(budget, context - prompt_len))
        batch = len(request.seeds)
        u = torch.from_numpy(uniforms(request.seeds, budget)).to(device)
        config = GenerationConfig(
            max_new_tokens=budget,
            do_sample=False,
            num_beams=1,
            eos_token_id=sorted(self.eos_ids) or None,
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(self.params.stop) or None,
        )
        sampler = SeededSampler(u, prompt_len, self.params)
        with torch.inference_mode():
            out = self.model.generate(
                ids.expand(batch, -1),
                attention_mask=torch.ones((batch, prompt_len), dtype=torch.long, device=device),
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                tokenizer=self.tokenizer if self.params.stop else None,
            )
        steps = torch.stack(sampler.logprobs, dim=1).cpu().tolist()  # [B x generated steps]
        rows = out[:, prompt_len:].cpu()
        return [
            self._with_logprob(self._completion(row.tolist(), budget), row.tolist(), lp)
            for row, lp in zip(rows, steps, strict=True)
        ]

    def _with_logprob(
        self, completion: Completion, tokens: list[int], step_logprobs: list[float]
    ) -> Completion:
        """Attach the T = 1 log-prob of the tokens that make up the stored text (EOS excluded)."""
        count = self._text_tokens(completion.text, tokens)
        if count is None:
            return completion
        return replace(completion, logprob=float(sum(step_logprobs[:count])))

    def _text_tokens(self, text: str, tokens: list[int]) -> int | None:
        """How many generated tokens decode to exactly `text`; None when a token straddles its end."""
        end = next((i for i, t in enumerate(tokens) if t in self.eos_ids), len(tokens))
        if self._decode(tokens[:end]) == text:
            return end
        for k in range(end + 1):  # a stop string cut the text: find the tokens before it
            decoded = self._decode(tokens[:k])
            if decoded == text:
                return k
            if len(decoded) > len(text):
                return None
        return None

    def _completion(self, tokens: list[int], budget: int) -> Completion:
        end = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        if end is not None:
            return Completion(self._decode(tokens[:end]), end + 1, "stop")
        # A row that a stop string finished is padded to the end; a pad token the model
        # sampled mid-row is not an end, so only the trailing run of pads is cut.
        pad = self.tokenizer.pad_token_id
        while tokens and tokens[-1] == pad:
            tokens = tokens[:-1]
        text = self._decode(tokens)
        cuts = [c for c in (text.find(stop) for stop in self.params.stop) if c >= 0]
        if cuts:  # the text ends before the earliest stop string, as in vLLM and OpenAI
            return Completion(text[: min(cuts)], len(tokens), "stop")
        return Completion(text, len(tokens), "stop" if len(tokens) < budget else "length")

    def _decode(self, tokens: list[int]) -> str:
        text: str = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return text

    def close(self) -> None:
        pass


register_backend("hf", HFBackend)
