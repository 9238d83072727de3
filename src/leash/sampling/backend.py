"""What every sampling backend provides, and the registry of backends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BACKENDS", "Backend", "Completion", "Request", "register_backend"]


@dataclass(frozen=True)
class Request:
    """Sample one prompt once per seed (the seeds of consecutive sample indices)."""

    prompt: str
    seeds: list[int]


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int | None  # generated tokens, EOS included; None when the backend cannot tell
    finish_reason: str | None  # "stop" (EOS or a stop string) or "length"
    logprob: float | None = None  # log-prob of the text's tokens under the model at T = 1, if known


class Backend(Protocol):
    name: str
    tokenizer: Any | None  # for chat templates and prompt lengths; None when unknown
    seeded: bool  # whether each sample's seed decides its text
    group_size: int  # how many requests to hand over at once

    def context_length(self) -> int | None: ...

    def generate(self, requests: list[Request]) -> list[list[Completion]]: ...

    def close(self) -> None: ...


BackendFactory = Callable[..., Backend]
BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Register a backend factory `(model, params: SamplingParams, **options) -> Backend`."""
    if name in BACKENDS:
        raise ValueError(f"sampling backend {name!r} is already registered")
    BACKENDS[name] = factory
