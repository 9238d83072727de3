"""`leash sample`: n completions per task from a model into a run directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.cli.progress import progress_bar
from leash.errors import LeashError
from leash.sampling import BACKENDS, Interrupted, SamplingParams, sample_run
from leash.tasks import Columns


@user_errors
def sample_command(
    model: str = typer.Option(
        ..., "--model", "-m", help="HF model folder or hub id (for openai: the served name)."
    ),
    tasks: str = typer.Option(
        ..., "--tasks", "-t", help="Task spec: rg:NAME?..., file:PATH, hf:ORG/NAME, a preset."
    ),
    n: int = typer.Option(..., "-n", help="Samples per task (a larger n later extends the run)."),
    run: Path = typer.Option(..., "--run", help="Run directory to create or resume."),
    backend: str = typer.Option("hf", "--backend", "-b", help=f"One of: {', '.join(sorted(BACKENDS))}."),
    temperature: float = typer.Option(0.6, "--temperature", help="Sampling temperature (papers: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus mass (papers: 0.95)."),
    top_k: int | None = typer.Option(None, "--top-k", help="Keep the k most likely tokens (default: off)."),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="New tokens per completion."),
    stop: list[str] | None = typer.Option(
        None, "--stop", help="Stop string (repeatable); not kept in the text."
    ),
    seed: int = typer.Option(0, "--seed", help="Run seed; each sample's seed derives from it."),
    batch_size: int = typer.Option(64, "--batch-size", help="Samples of one prompt generated together."),
    chat_template: bool | None = typer.Option(
        None,
        "--chat-template/--no-chat-template",
        help="Use the tokenizer's chat template (default: if it has one).",
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks."),
    id_col: str = typer.Option("task_id", "--id-col", help="file:/hf: column with the task id."),
    prompt_col: str = typer.Option("prompt", "--prompt-col", help="file:/hf: column with the question."),
    answer_col: str = typer.Option("answer", "--answer-col", help="file:/hf: column with the gold answer."),
    new_run: bool = typer.Option(
        False, "--new-run", help="Settings changed: move the old run aside, start over."
    ),
    base_url: list[str] | None = typer.Option(
        None, "--base-url", help="openai: server URL, e.g. http://host:8000/v1 (repeatable)."
    ),
    api_key: str | None = typer.Option(None, "--api-key", help="openai: API key [env OPENAI_API_KEY]."),
    concurrency: int = typer.Option(8, "--concurrency", help="openai: requests in flight."),
    retries: int = typer.Option(5, "--retries", help="openai: tries per request before giving up."),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="openai: tokenizer for the chat template."
    ),
    device: str | None = typer.Option(
        None, "--device", help="hf: cpu, cuda, cuda:1 (default: cuda if present)."
    ),
    dtype: str = typer.Option("auto", "--dtype", help="hf/vllm: auto, float32, bfloat16, float16."),
    engine: str | None = typer.Option(
        None, "--engine", help="ray: the engine each replica holds, hf or vllm (default hf)."
    ),
    replicas: int = typer.Option(1, "--replicas", help="ray: engine replicas (Ray actors)."),
    address: str | None = typer.Option(
        None, "--address", help="ray: cluster address (host:port, ray://..., auto); default a local one."
    ),
    cpus_per_replica: float = typer.Option(1.0, "--cpus-per-replica", help="ray: CPUs per replica."),
    gpus_per_replica: float = typer.Option(0.0, "--gpus-per-replica", help="ray: GPUs per replica."),
    flush_every: int = typer.Option(
        1024, "--flush-every", help="Write a shard every N samples.", hidden=True
    ),
) -> None:
    """Sample n completions per task; run again to resume, with a larger -n to grow.

    Defaults follow Yue et al. and the Invisible Leash: temperature 0.6, top-p 0.95.
    `--backend ray --replicas R` spreads the samples over R engines on a Ray cluster
    (docs/scale.md); the texts are those of a single-process run with the same seed.
    """
    try:
        params = SamplingParams(temperature, top_p, top_k, max_tokens, tuple(stop or ()), seed)
    except ValueError as err:
        raise LeashError(str(err)) from err
    options: dict[str, Any] = {"device": device, "dtype": dtype}
    if backend == "openai":
        options |= {
            "base_url": base_url or ["http://localhost:8000/v1"],
            "api_key": api_key or os.environ.get("OPENAI_API_KEY"),
            "concurrency": concurrency,
            "retries": retries,
            "tokenizer": tokenizer,
        }
    if backend == "ray":
        options |= {
            "engine": engine or "hf",
            "replicas": replicas,
            "address": address,
            "cpus_per_replica": cpus_per_replica,
            "gpus_per_replica": gpus_per_replica,
        }
    elif engine is not None or address is not None or replicas != 1:
        raise LeashError(f"--engine, --replicas and --address go with --backend ray (not {backend})")
    console = Console(stderr=True, soft_wrap=True)
    with progress_bar(
        console,
        "sample",
        "{task.fields[tasks]} tasks · {task.fields[rate]} samples/s · {task.fields[tps]} tok/s",
    ) as bar:
        job = bar.add_task("sample", total=None, tasks="0", rate="–", tps="–")
        clock: dict[str, float] = {}

        def on_progress(done: int, total: int, tasks_done: int, tokens: int) -> None:
            import time

            start = clock.setdefault("start", time.perf_counter())
            base = clock.setdefault("base", done)
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.update(
                job, completed=done, total=total, tasks=str(tasks_done),
                rate=f"{(done - base) / elapsed:.1f}", tps=f"{tokens / elapsed:.0f}",
            )  # fmt: skip

        try:
            summary = sample_run(
                model, tasks, n, run, backend=backend, params=params, batch_size=batch_size,
                chat_template=chat_template, limit=limit, columns=Columns(id_col, prompt_col, answer_col),
                new_run=new_run, backend_options=options, progress=on_progress, flush_rows=flush_every,
            )  # fmt: skip
        except KeyboardInterrupt as stop:
            bar.stop()
            kept = (
                f"{stop.added} samples of this call are stored in {stop.run}"
                if isinstance(stop, Interrupted)
                else "nothing of this call was sampled yet"
            )
            console.print(f"interrupted: {kept}; run the same command to resume")
            raise typer.Exit(130) from None
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    if summary.skipped:
        console.print(
            f"[yellow]warning:[/] skipped {len(summary.skipped)} tasks whose prompt exceeds the model's "
            f"context (e.g. {summary.skipped[0]}); listed in run.json"
        )
    rate = summary.samples_added / summary.seconds if summary.seconds > 0 else 0.0
    console.print(
        f"sampled {summary.samples_added} completions ({summary.tokens} tokens) for {summary.tasks} tasks in "
        f"{summary.seconds:.1f} s ({rate:.1f} samples/s); {summary.samples_total} stored in {summary.run}"
    )
