"""The `ray` backend: `--replicas` Ray actors, each holding an `hf` or `vllm` engine.

The driver loads only the tokenizer and the model's config (prompts and context
lengths), plans the missing keys as any run does, and cuts the chunks into work
units of about `flush_rows` samples; each actor samples a unit with the samples'
own seeds and writes it as one staged shard that the driver commits
(`leash.cluster.run_units`: a unit is committed once; a killed worker's unit is
redone on a new actor). A sample's text depends on its seed and the model alone,
so the texts are those of a single-process run with the same seed.

For vLLM engines each actor holds leash's own `vllm` backend (one seeded n = 1
request per sample) rather than a Ray Data LLM pipeline: see docs/scale.md.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from leash.cluster import RaySpec, connect, run_units
from leash.errors import LeashError
from leash.sampling.backend import BACKENDS, Completion, Request, register_backend
from leash.sampling.hf import check_model_folder
from leash.sampling.params import SamplingParams

__all__ = ["RayBackend", "SampleUnits"]

ENGINES = ("hf", "vllm")


def load_tokenizer(model: str) -> tuple[Any, int | None]:
    """The model's tokenizer and context length (max_position_embeddings), without its weights."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    check_model_folder(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:200]
        raise LeashError(
            f"cannot load model {model!r} ({first}); pass a local folder or a reachable hub id"
        ) from err
    return tokenizer, getattr(config, "max_position_embeddings", None)


class RayBackend:
    """Driver side: prompts and planning here, generation on the replicas (`drive`)."""

    name = "ray"
    seeded = True
    group_size = 1

    def __init__(
        self,
        model: str,
        params: SamplingParams,
        engine: str = "hf",
        replicas: int = 1,
        address: str | None = None,
        cpus_per_replica: float = 1.0,
        gpus_per_replica: float = 0.0,
        **engine_options: Any,
    ) -> None:
        if engine not in ENGINES:
            raise LeashError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
        self.spec = RaySpec(replicas, address, cpus_per_replica, gpus_per_replica)
        self.spec.check()
        self.ray = connect(self.spec)  # before the run is written: a bad --address is one line
        self.model, self.params, self.engine = model, params, engine
        self.options = {k: v for k, v in engine_options.items() if v is not None}
        self.tokenizer, self._context = load_tokenizer(model)
        self.notes: list[str] = []

    def context_length(self) -> int | None:
        return self._context

    def prompt_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=False).input_ids)

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        raise RuntimeError("the ray backend writes shards itself: sample_run calls drive()")

    def drive(
        self, run: Any, chunks: list[Any], run_seed: int, progress: Any, target: int, unit_rows: int
    ) -> tuple[int, int, float]:
        """Sample every chunk on the replicas; returns (samples added, tokens, seconds)."""
        from leash.sampling import Interrupted
        from leash.sampling.params import sample_seed

        start = time.perf_counter()
        done_before = target - sum(len(c.indices) for c in chunks)
        units: list[list[tuple[str, str, list[int], list[int]]]] = [[]]
        size = 0
        for c in chunks:
            if size >= unit_rows:
                units.append([])
                size = 0
            seeds = [sample_seed(run_seed, c.task.task_id, i) for i in c.indices]
            units[-1].append((c.task.task_id, c.prompt, list(c.indices), seeds))
            size += len(c.indices)
        units = [u for u in units if u]
        totals = {"added": 0, "tokens": 0}

        def on_commit(result: dict[str, Any]) -> None:
            totals["added"] += result["rows"]
            totals["tokens"] += result["stats"]["tokens"]
            if progress is not None:
                progress(done_before + totals["added"], target, result["stats"]["tasks"], totals["tokens"])

        options = {
            "engine": self.engine,
            "model": self.model,
            "params": self.params.as_dict(),
            "options": self.options,
        }
        try:
            factory = "leash.sampling.ray:SampleUnits"
            done = run_units(self.ray, run, "samples", units, factory, options, self.spec, on_commit)
        except LeashError as err:
            raise LeashError(
                f"{err}; {totals['added']} samples of this call are kept, run the same command to resume"
            ) from None
        except KeyboardInterrupt:
            raise Interrupted(run.path, totals["added"]) from None
        self.notes += [note] if (note := done.note()) else []
        return totals["added"], totals["tokens"], time.perf_counter() - start

    def close(self) -> None:
        pass


class SampleUnits:
    """Worker side: one engine (`hf`, `vllm`) that samples a unit of (task, prompt, indices, seeds)."""

    def __init__(self, engine: str, model: str, params: dict[str, Any], options: dict[str, Any]) -> None:
        import leash.sampling  # noqa: F401  (registers the engines)

        params = {**params, "stop": tuple(params["stop"])}
        self.engine = BACKENDS[engine](model, SamplingParams(**params), **options)

    def process(self, unit: list[tuple[str, str, list[int], list[int]]]) -> tuple[pa.Table, dict[str, Any]]:
        from leash.sampling import _SAMPLE_ROW, _rows

        rows: list[dict[str, Any]] = []
        tokens = 0
        group = max(1, self.engine.group_size)
        for g in range(0, len(unit), group):
            part = unit[g : g + group]
            results = self.engine.generate([Request(prompt, seeds) for _, prompt, _, seeds in part])
            for (task_id, _, indices, seeds), completions in zip(part, results, strict=True):
                rows.extend(_rows(task_id, indices, completions, seeds, self.engine.seeded))
                tokens += sum(c.n_tokens or 0 for c in completions)
        tasks = len({task_id for task_id, *_ in unit})
        return pa.Table.from_pylist(rows, schema=_SAMPLE_ROW), {"tokens": tokens, "tasks": tasks}

    def close(self) -> None:
        self.engine.close()


register_backend("ray", RayBackend)
