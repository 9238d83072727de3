"""`leash sample`: n completions per task from a model, stored so that nothing is ever redone.

`sample_run` resolves the tasks, renders each prompt (chat or plain template),
plans the missing (task_id, sample_idx) pairs in chunks aligned on multiples of
the batch size, and appends each finished chunk to `samples/` (buffered, flushed
every few thousand rows or seconds). Run again, it resumes; run with a larger n,
it grows every task from its current count. A change of model or of anything that
changes the distribution (temperature, top-p, top-k, max tokens, stop strings,
template) is refused unless `new_run`, which moves the old run aside.

Backends (registry `BACKENDS`): `hf` (transformers, CPU or CUDA), `openai` (any
OpenAI-compatible /v1/completions server), `vllm` (offline engine, optional extra),
`ray` (`hf` or `vllm` engines on Ray replicas that write the shards; docs/scale.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.errors import LeashError
from leash.sampling import hf as _hf  # noqa: F401  (registers the backend)
from leash.sampling import openai_api as _openai  # noqa: F401
from leash.sampling import ray as _ray  # noqa: F401
from leash.sampling import vllm as _vllm  # noqa: F401
from leash.sampling.backend import BACKENDS, Backend, Completion, Request, register_backend
from leash.sampling.params import DISTRIBUTION_FIELDS, SamplingParams, sample_seed
from leash.sampling.prompts import render_prompt
from leash.store import SAMPLES, TASKS, Run, create_run
from leash.tasks import Columns, Task, load_tasks

__all__ = [
    "BACKENDS",
    "Completion",
    "Interrupted",
    "Request",
    "SampleSummary",
    "SamplingParams",
    "register_backend",
    "sample_run",
]

# samples/ rows: the contract's columns, then the sampler's own log-prob of the text when known.
_SAMPLE_ROW = pa.schema([*SAMPLES, ("logprob", pa.float64())])
Progress = Callable[[int, int, int, int], None]  # (samples done, samples total, tasks done, tokens)


@dataclass
class SampleSummary:
    run: Path
    tasks: int
    samples_added: int
    samples_total: int
    tokens: int
    seconds: float
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while sampling, once the finished samples are stored: says what was kept."""

    def __init__(self, run: Path, added: int) -> None:
        super().__init__(f"{added} samples of this call are stored in {run}")
        self.run = run
        self.added = added


@dataclass(frozen=True)
class _Chunk:
    task: Task
    prompt: str
    indices: list[int]


def _model_id(model: str) -> str:
    path = Path(model)
    return str(path.resolve()) if path.exists() else model


def _check_same_distribution(run: Run, config: dict[str, Any], new_run: bool) -> Run | None:
    """None when the run can go on; refuses a changed distribution unless new_run."""
    meta = run.meta()
    if meta.get("source", {}).get("kind") == "import":
        raise LeashError(f"run {run.path} holds imported generations; sample into a new --run")
    old = meta.get("sampling")
    if not old:
        return None
    changed = [
        f"{key}: {old.get(key)!r} -> {config.get(key)!r}"
        for key in ("model", *DISTRIBUTION_FIELDS, "chat_template")
        if old.get(key) != config.get(key)
    ]
    if not changed:
        return None
    if not new_run:
        raise LeashError(
            f"run {run.path} was sampled with other settings ({'; '.join(changed)}); "
            "use another --run, or --new-run to move the old run aside and start over"
        )
    busy = run.busy()
    if busy:
        raise LeashError(
            f"run {run.path}: {', '.join(busy)} is being written by another command; "
            "--new-run cannot move the run aside until it ends"
        )
    aside = run.path.with_name(f"{run.path.name}.old-{datetime.now(UTC):%Y%m%d-%H%M%S}")
    run.path.rename(aside)
    return Run(aside)


def _plan(tasks: list[tuple[Task, str]], stored: dict[str, Any], n: int, batch: int) -> list[_Chunk]:
    chunks = []
    for task, prompt in tasks:
        have = set(stored.get(task.task_id, []).tolist()) if task.task_id in stored else set()
        for start in range(0, n, batch):
            missing = [i for i in range(start, min(start + batch, n)) if i not in have]
            if missing:
                chunks.append(_Chunk(task, prompt, missing))
    return chunks


def _prompts(
    tasks: list[Task], backend: Backend, chat: bool, run: Run | None
) -> tuple[list[tuple[Task, str]], list[str]]:
    """Render prompts; drop those longer than the model's context; check stored prompts."""
    stored: dict[str, str] = {}
    if run is not None:
        table = run.read_tasks()
        stored = dict(zip(table["task_id"].to_pylist(), table["prompt"].to_pylist(), strict=True))
    context = backend.context_length()
    count = getattr(backend, "prompt_tokens", None)
    kept, skipped = [], []
    longest = 0
    for task in tasks:
        prompt = render_prompt(task, backend.tokenizer, chat)
        if task.task_id in stored and stored[task.task_id] not in (None, prompt):
            raise LeashError(
                f"task {task.task_id!r}: its prompt differs from the one stored in the run "
                "(another template or task source?); use another --run or --new-run"
            )
        if context is not None and count is not None:
            length = count(prompt)
            if length >= context:
                skipped.append(task.task_id)
                longest = max(longest, length)
                continue
        kept.append((task, prompt))
    if skipped and not kept:
        raise LeashError(
            f"every prompt ({len(skipped)} tasks) is at least the model's context of {context} tokens "
            f"(the longest is {longest} tokens), so nothing can be sampled; use a model with a "
            "longer context or shorter prompts"
        )
    return kept, skipped


def _unicode(text: str | None) -> str | None:
    """Model text as valid Unicode: a lone surrogate (a server's JSON "\\ud800") becomes U+FFFD."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _rows(
    task_id: str, indices: list[int], completions: list[Completion], seeds: list[int], seeded: bool
) -> list[dict]:
    if len(completions) != len(indices):
        raise LeashError(
            f"backend returned {len(completions)} completions for {len(indices)} asked (task {task_id!r})"
        )
    return [
        {
            "task_id": task_id,
            "sample_idx": idx,
            "seed": seed if seeded else None,
            "text": _unicode(c.text),
            "n_tokens": c.n_tokens,
            "finish_reason": c.finish_reason,
            "logprob": c.logprob,
        }
        for idx, seed, c in zip(indices, seeds, completions, strict=True)
    ]


def sample_run(
    model: str,
    tasks: str,
    n: int,
    run_dir: str | Path,
    *,
    backend: str = "hf",
    params: SamplingParams | None = None,
    batch_size: int = 64,
    chat_template: bool | None = None,
    limit: int | None = None,
    columns: Columns | None = None,
    new_run: bool = False,
    backend_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    flush_rows: int = 1024,
    flush_seconds: float = 30.0,
) -> SampleSummary:
    """Sample `n` completions per task of `tasks` from `model` into the run at `run_dir`."""
    params = params or SamplingParams()
    if n < 1:
        raise LeashError(f"-n {n}: must be >= 1")
    if batch_size < 1:
        raise LeashError(f"--batch-size {batch_size}: must be >= 1")
    if backend not in BACKENDS:
        raise LeashError(f"unknown backend {backend!r}; choose one of: {', '.join(sorted(BACKENDS))}")
    task_list = load_tasks(tasks, columns, limit)
    config: dict[str, Any] = {"model": _model_id(model), **params.as_dict(), "chat_template": chat_template}

    run_path = Path(run_dir)
    notes: list[str] = []
    with ExitStack() as locks:
        existing = Run(run_path) if (run_path / "run.json").exists() else None
        if existing is not None:  # one writer of samples/: refuse a second before loading the model
            locks.enter_context(existing.lock("samples"))
            # The template is known only once the tokenizer is loaded: compare it below.
            probe = {**config, "chat_template": existing.meta().get("sampling", {}).get("chat_template")}
            aside = _check_same_distribution(existing, probe, new_run)
            if aside is not None:
                notes.append(f"moved the previous run to {aside.path}")
                existing = None
                locks.close()  # that lock went aside with the old run

        engine = BACKENDS[backend](model, params, **(backend_options or {}))
        try:
            has_template = bool(getattr(engine.tokenizer, "chat_template", None))
            config["chat_template"] = has_template if chat_template is None else chat_template
            if existing is not None:
                aside = _check_same_distribution(existing, config, new_run)
                if aside is not None:
                    notes.append(f"moved the previous run to {aside.path}")
                    existing = None
                    locks.close()
            kept, skipped = _prompts(task_list, engine, config["chat_template"], existing)
            run = existing or create_run(run_path, {"model": config["model"]})
            locks.enter_context(run.lock("samples"))  # re-entrant when already held
            run.write_tasks(pa.Table.from_pylist([t.row(p) for t, p in kept], schema=TASKS))
            stored = run.keys("samples")
            chunks = _plan(kept, stored, n, batch_size)
            previous = run.meta().get("sampling", {})
            run.update_meta(
                {
                    "sampling": {
                        **config,
                        "backend": backend,
                        "tasks": tasks,
                        "n": max(n, previous.get("n", 0)),
                        "batch_size": batch_size,
                        "seeded": engine.seeded,
                    }
                }
            )
            drive = getattr(engine, "drive", None)  # the ray backend: replicas write the shards
            if drive is not None:
                added, tokens, seconds = drive(run, chunks, params.seed, progress, n * len(kept), flush_rows)
            else:
                added, tokens, seconds = _drive(
                    run, engine, chunks, params.seed, progress, flush_rows, flush_seconds, n * len(kept)
                )
        finally:
            engine.close()
        notes += getattr(engine, "notes", [])
        total = sum(len(v) for v in run.keys("samples").values())
        _record(run, seconds, tokens, skipped, total)
    return SampleSummary(run.path, len(kept), added, total, tokens, seconds, skipped, notes)


def _record(run: Run, seconds: float, tokens: int, skipped: list[str], total: int) -> None:
    """Add this call's time, tokens and skipped prompts to run.json's sampling block."""
    meta = run.meta()
    run.update_meta(
        {
            "sampling": {
                "wall_seconds": round(meta["sampling"].get("wall_seconds", 0.0) + seconds, 3),
                "tokens": meta["sampling"].get("tokens", 0) + tokens,
                "skipped_long_prompts": sorted(
                    set(meta["sampling"].get("skipped_long_prompts", [])) | set(skipped)
                ),
            },
            "counts": {"tasks": run.read_tasks().num_rows, "samples": total},
        }
    )


def _drive(
    run: Run,
    engine: Backend,
    chunks: list[_Chunk],
    run_seed: int,
    progress: Progress | None,
    flush_rows: int,
    flush_seconds: float,
    target: int,
) -> tuple[int, int, float]:
    """Generate every chunk, appending finished chunks to samples/; returns (added, tokens, s)."""
    start = time.perf_counter()
    buffer: list[dict] = []
    last_flush = start
    added = tokens = 0
    done_before = target - sum(len(c.indices) for c in chunks)
    remaining_per_task: dict[str, int] = {}
    for c in chunks:
        remaining_per_task[c.task.task_id] = remaining_per_task.get(c.task.task_id, 0) + 1
    all_tasks = len({c.task.task_id for c in chunks})
    tasks_done = 0

    def flush() -> None:
        nonlocal buffer, last_flush, added
        if buffer:
            run.append("samples", pa.Table.from_pylist(buffer, schema=_SAMPLE_ROW))
            added += len(buffer)
            buffer = []
        last_flush = time.perf_counter()

    try:
        for g in range(0, len(chunks), max(1, engine.group_size)):
            group = chunks[g : g + engine.group_size]
            seeds = [[sample_seed(run_seed, c.task.task_id, i) for i in c.indices] for c in group]
            results = engine.generate([Request(c.prompt, s) for c, s in zip(group, seeds, strict=True)])
            for chunk, chunk_seeds, completions in zip(group, seeds, results, strict=True):
                task_id = chunk.task.task_id
                buffer.extend(_rows(task_id, chunk.indices, completions, chunk_seeds, engine.seeded))
                tokens += sum(c.n_tokens or 0 for c in completions)
                remaining_per_task[chunk.task.task_id] -= 1
                tasks_done += remaining_per_task[chunk.task.task_id] == 0
            if len(buffer) >= flush_rows or time.perf_counter() - last_flush >= flush_seconds:
                flush()
            if progress is not None:
                progress(done_before + added + len(buffer), target, tasks_done, tokens)
    except LeashError as err:
        flush()
        raise LeashError(
            f"{err}; {added} samples of this call are kept, run the same command to resume"
        ) from err
    except KeyboardInterrupt:
        flush()
        raise Interrupted(run.path, added) from None
    flush()
    if progress is not None:
        progress(done_before + added, target, all_tasks, tokens)
    return added, tokens, time.perf_counter() - start
