"""The `vllm` backend: vLLM's offline engine, `SamplingParams(n=...)` per prompt.

Optional extra (`pip install 'leash[vllm]'`), imported only when chosen. The engine
gets the run seed once (`LLM(seed=...)`); requests never carry a per-request seed,
because with n > 1 some vLLM versions then return n identical samples. Texts are
therefore reproducible for a whole call, not per sample (the `seed` column stays
empty). Not exercised by CI: vLLM does not install on CPU-only machines.
"""

from __future__ import annotations

from typing import Any

from leash.errors import LeashError
from leash.sampling.backend import Completion, Request, register_backend
from leash.sampling.params import SamplingParams

__all__ = ["VLLMBackend"]


class VLLMBackend:
    name = "vllm"
    seeded = False
    group_size = 256  # prompts handed to the engine at once; it schedules them itself

    def __init__(
        self,
        model: str,
        params: SamplingParams,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        **_: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise LeashError(
                "the vllm backend needs vLLM: pip install 'leash[vllm]' (a CUDA machine)"
            ) from err
        self.params = params
        self.vllm = vllm
        self.engine = vllm.LLM(
            model=model,
            seed=params.seed,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
        )
        self.tokenizer = self.engine.get_tokenizer()

    def context_length(self) -> int | None:
        return int(self.engine.llm_engine.model_config.max_model_len)

    def prompt_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=False).input_ids)

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        p = self.params
        sampling = [
            self.vllm.SamplingParams(
                n=len(r.seeds),
                temperature=p.temperature,
                top_p=p.top_p,
                top_k=p.top_k if p.top_k is not None else -1,
                max_tokens=p.max_tokens,
                stop=list(p.stop) or None,
            )
            for r in requests
        ]
        outputs = self.engine.generate([r.prompt for r in requests], sampling, use_tqdm=False)
        return [
            [
                Completion(o.text, len(o.token_ids), "stop" if o.finish_reason == "stop" else "length")
                for o in out.outputs
            ]
            for out in outputs
        ]

    def close(self) -> None:
        pass


register_backend("vllm", VLLMBackend)
