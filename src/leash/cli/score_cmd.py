"""`leash score RUN --model M`: log-probs and token entropy under a model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.cli.progress import progress_bar
from leash.errors import LeashError
from leash.scoring import RaySpec, score_run
from leash.store import open_run


@user_errors
def score_command(
    run: Path = typer.Argument(..., help="The run whose completions to score."),
    model: str = typer.Option(..., "--model", "-m", help="HF model folder or hub id of the scorer."),
    backend: str = typer.Option(
        "hf", "--backend", "-b", help="hf (transformers), vllm (offline engine), openai (a vLLM server)."
    ),
    base_url: str = typer.Option(
        "http://localhost:8000/v1", "--base-url", help="openai: the server, e.g. http://host:8000/v1."
    ),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="openai: the scorer's tokenizer folder."),
    full_vocab: bool = typer.Option(
        False, "--full-vocab", help="vllm/openai: full-vocabulary log-probs (entropy, T != 1); slow."
    ),
    batch_size: int = typer.Option(
        16, "--batch-size", help="Sequences per forward pass (bucketed by length)."
    ),
    temperature: float = typer.Option(
        1.0, "--temperature", help="Score softmax(logits / T); 1 = raw logits."
    ),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, ... (default: cuda if present)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16, float16."),
    executor: str = typer.Option(
        "local", "--executor", help="local, or ray: batches scored by --replicas Ray actors (docs/scale.md)."
    ),
    replicas: int = typer.Option(1, "--replicas", help="ray: scoring actors, each holding the model."),
    address: str | None = typer.Option(
        None, "--address", help="ray: cluster address (host:port, ray://..., auto); default a local one."
    ),
    cpus_per_replica: float = typer.Option(1.0, "--cpus-per-replica", help="ray: CPUs per replica."),
    gpus_per_replica: float = typer.Option(0.0, "--gpus-per-replica", help="ray: GPUs per replica."),
) -> None:
    """Log-probs, token counts and token entropy of every completion under a model.

    Scores only the completions not yet scored by this model, into scores/<model>/; `leash compare`
    turns them into perplexity and entropy tables.
    """
    options: dict = {}
    if backend == "vllm":
        options = {"full_vocab": full_vocab}
    elif backend == "openai":
        options = {"full_vocab": full_vocab, "base_url": base_url, "tokenizer": tokenizer}
    elif backend != "hf":
        raise LeashError(f"--backend {backend}: choose hf, vllm or openai")
    console = Console(stderr=True, soft_wrap=True)
    with progress_bar(console, "score", "{task.fields[tps]} tok/s") as bar:
        job = bar.add_task("score", total=None, tps="–")
        clock: dict[str, float] = {}

        def on_progress(done: int, total: int, tokens: int) -> None:
            import time

            start = clock.setdefault("start", time.perf_counter())
            bar.update(
                job, completed=done, total=total, tps=f"{tokens / max(time.perf_counter() - start, 1e-9):.0f}"
            )

        summary = score_run(
            run, model, batch_size=batch_size, temperature=temperature, device=device, dtype=dtype,
            progress=on_progress, backend=backend, backend_options=options, executor=executor,
            ray=RaySpec(replicas, address, cpus_per_replica, gpus_per_replica),
        )  # fmt: skip
    rate = summary.tokens / summary.seconds if summary.seconds else 0.0
    notes = []
    if summary.truncated:
        notes.append(f"{summary.truncated} truncated to the context")
    if summary.empty:
        notes.append(f"{summary.empty} empty completions (0 tokens)")
    console.print(
        f"scored {summary.scored} completions ({summary.tokens} tokens, {rate:.0f} tok/s) into "
        f"{summary.run}/scores/{summary.scorer}" + (f"; {'; '.join(notes)}" if notes else "")
    )
    why = token_count_note(summary.run, summary.scorer)
    if why:
        console.print(why)


def token_count_note(run_dir: Path, scorer: str) -> str | None:
    """Why this scorer's token count differs from `leash sample`'s for the same completions, or None.

    sample's n_tokens counts what the model generated: the EOS token that ended a completion, a
    stop string cut from the text, special tokens the decoder drops. score's n_tokens counts the
    tokens of the stored text, re-tokenised on its own, the prompt apart (docs/score.md).
    """
    con = open_run(run_dir).connect()
    generated, text, ended = con.execute(
        "select sum(s.n_tokens), sum(c.n_tokens), count(*) filter (where s.finish_reason = 'stop') "
        "from samples s join scores c using (task_id, sample_idx) where c.scorer = ?",
        [scorer],
    ).fetchall()[0]
    if generated is None or text is None or generated == text:
        return None
    return (
        f"note: these completions hold {text} tokens of text; `leash sample` counted {generated} tokens "
        f"generated, which include the end-of-sequence token of the {ended} that stopped, any stop "
        "string and any special token left out of the stored text (see docs/score.md)"
    )
