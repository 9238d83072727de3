"""One vLLM engine for the whole vLLM test session (an engine start costs tens of seconds on CPU).

Built the way the `vllm` backend builds it, plus `max_logprobs=-1` so that the scoring
tests can ask for full-vocabulary prompt log-probs from the same engine.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

# vLLM's CPU build: a small KV cache (GiB) is plenty for the tiny model and leaves memory to others.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
ENGINE_ARGS: dict[str, Any] = {"dtype": "float32", "enforce_eager": True, "max_model_len": 512}


@functools.cache
def shared_engine(model: Path) -> Any:
    from leash.sampling.vllm import load_engine

    return load_engine(str(model), seed=0, logprobs_mode="raw_logprobs", max_logprobs=-1, **ENGINE_ARGS)


def sample_texts(run: Path) -> dict[tuple[str, int], str]:
    """(task_id, sample_idx) -> text of a run's samples: what "the same run" compares."""
    from leash.store import open_run

    return {(r["task_id"], r["sample_idx"]): r["text"] for r in open_run(run).read("samples").to_pylist()}
