"""The `openai` backend: any OpenAI-compatible `/v1/completions` server.

vLLM or SGLang (`vllm serve`, `python -m sglang.launch_server`), `transformers
serve`, or a hosted endpoint. Requests ask for `n` completions at once; a server
that returns fewer choices than asked (transformers serve ignores `n`) is asked
again for the rest. Several `--base-url`s share the load round-robin; at most
`concurrency` requests are in flight; a failed request (connection error, 429 or
5xx) is retried with exponential backoff on the next server.

Seeds: by default one request asks for n samples and carries no seed (the `seed`
column stays empty), so texts of a resumed run are new draws from the same
distribution. With `per_sample_seeds` every sample is its own request with `n: 1`
and `seed: sample_seed(run, task, idx)`: on a server that honours request seeds
(vLLM; tested against its server) texts are then per-sample reproducible and a
resumed run equals an uninterrupted one. One seeded n-sample request would not do:
vLLM gives its child k the seed s + k, not leash's per-sample seeds.

The prompt is sent as text: with --chat-template, leash renders it with the
model's tokenizer (a local folder, or --tokenizer), so the stored prompt is exactly
what the server received.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.sampling.backend import Completion, Request, register_backend
from leash.sampling.params import SamplingParams

__all__ = ["OpenAIBackend"]

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIBackend:
    name = "openai"
    seeded = False

    def __init__(
        self,
        model: str,
        params: SamplingParams,
        base_url: list[str] | str = "http://localhost:8000/v1",
        api_key: str | None = None,
        concurrency: int = 8,
        retries: int = 5,
        timeout: float = 600.0,
        tokenizer: str | None = None,
        served_model: str | None = None,
        backoff: float = 0.5,
        per_sample_seeds: bool = False,
        **_: Any,
    ) -> None:
        try:
            import httpx
        except ImportError as err:
            raise LeashError("the openai backend needs httpx: pip install 'leash[openai]'") from err
        self.params = params
        self.seeded = per_sample_seeds
        self.model = served_model or model
        self.urls = [u.rstrip("/") for u in ([base_url] if isinstance(base_url, str) else base_url)]
        if not self.urls:
            raise LeashError("--base-url: give at least one server URL")
        self.retries, self.backoff = max(1, retries), backoff
        self.group_size = max(1, concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(timeout=timeout, headers=headers)
        self._next_url = itertools.count()
        self._lock = threading.Lock()
        self.tokenizer = self._load_tokenizer(tokenizer or (model if Path(model).exists() else None))

    @staticmethod
    def _load_tokenizer(source: str | None) -> Any:
        if source is None:
            return None
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as err:
            raise LeashError(f"--tokenizer {source}: cannot load ({str(err).splitlines()[0][:200]})") from err

    def context_length(self) -> int | None:
        return None  # the server refuses prompts that do not fit; it knows best

    def _url(self) -> str:
        with self._lock:
            return self.urls[next(self._next_url) % len(self.urls)]

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to `/completions` of the next server, retrying transient failures."""
        import httpx

        last = ""
        for attempt in range(self.retries):
            url = self._url()
            try:
                response = self.client.post(f"{url}/completions", json=body)
            except httpx.TransportError as err:
                last = f"{url}: {type(err).__name__}: {err}"
            else:
                if response.status_code == 200:
                    data: dict[str, Any] = response.json()
                    return data
                last = f"{url}: HTTP {response.status_code} {response.text[:200]}"
                if response.status_code not in _RETRY_STATUS:
                    raise LeashError(f"server refused the request ({last})")
            if attempt + 1 < self.retries:
                time.sleep(min(8.0, self.backoff * 2**attempt))
        tries = "1 try" if self.retries == 1 else f"{self.retries} tries"
        raise LeashError(f"no server answered after {tries} (last: {last})")

    def _body(self, prompt: str, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "n": n,
            "max_tokens": self.params.max_tokens,
            "temperature": self.params.temperature,
            "top_p": self.params.top_p,
        }
        if seed is not None:
            body["seed"] = seed
        if self.params.top_k is not None:
            body["top_k"] = self.params.top_k  # vLLM and SGLang accept it as an extra field
        if self.params.stop:
            body["stop"] = list(self.params.stop)
        return body

    def _complete_seeded(self, prompt_seed: tuple[str, int]) -> Completion:
        data = self.post(self._body(prompt_seed[0], 1, prompt_seed[1]))
        choices = data.get("choices") or []
        if not choices:
            raise LeashError(f"server returned no choices for model {self.model!r}")
        usage = data.get("usage") or {}
        return Completion(
            choices[0].get("text") or "", usage.get("completion_tokens"), choices[0].get("finish_reason")
        )

    def _complete(self, request: Request) -> list[Completion]:
        wanted = len(request.seeds)
        out: list[Completion] = []
        while len(out) < wanted:
            ask = wanted - len(out)
            data = self.post(self._body(request.prompt, ask, None))
            choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))[:ask]
            if not choices:
                raise LeashError(f"server returned no choices for model {self.model!r}")
            usage = data.get("usage") or {}
            for choice in choices:
                n_tokens = usage.get("completion_tokens") if len(choices) == 1 else None
                out.append(Completion(choice.get("text") or "", n_tokens, choice.get("finish_reason")))
        return out

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        with ThreadPoolExecutor(max_workers=self.group_size) as pool:
            if not self.seeded:
                return list(pool.map(self._complete, requests))
            # One request per sample, all of them in flight across the pool.
            done = iter(pool.map(self._complete_seeded, [(r.prompt, s) for r in requests for s in r.seeds]))
            return [[next(done) for _ in r.seeds] for r in requests]

    def close(self) -> None:
        self.client.close()


register_backend("openai", OpenAIBackend)
