"""`leash grade RUN`: verdicts for every completion, resumable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.cli.progress import progress_bar
from leash.grading import VERIFIERS, RaySpec, grade_run


@user_errors
def grade_command(
    run: Path = typer.Argument(..., help="The run directory to grade."),
    verifier: str | None = typer.Option(
        None, "--verifier", "-v", help=f"Override the tasks' verifiers: {', '.join(sorted(VERIFIERS))}."
    ),
    workers: int = typer.Option(
        2,
        "--workers",
        "-w",
        help="Worker processes (math) or sandboxed fork servers (code, rg) run in parallel.",
    ),
    timeout: float = typer.Option(10.0, "--timeout", help="Hard wall-clock limit per verification, seconds."),
    strict: bool = typer.Option(False, "--strict", help="Refuse to run code without the full sandbox."),
    regrade: bool = typer.Option(
        False, "--regrade", help="Grade again (a new generation; the old verdicts are kept until it is done)."
    ),
    status: str | None = typer.Option(
        None, "--status", help="With --regrade: only verdicts with these statuses, e.g. timeout,error."
    ),
    executor: str = typer.Option(
        "local", "--executor", help="local, or ray: batches graded by --replicas Ray actors (docs/scale.md)."
    ),
    replicas: int = typer.Option(1, "--replicas", help="ray: grading actors, each with --workers processes."),
    address: str | None = typer.Option(
        None, "--address", help="ray: cluster address (host:port, ray://..., auto); default a local one."
    ),
    cpus_per_replica: float = typer.Option(
        1.0, "--cpus-per-replica", help="ray: CPUs Ray reserves per actor."
    ),
) -> None:
    """Grade every stored completion not graded yet; write grades/<verifier>/.

    A verdict always has a status: ok, no_answer, timeout or error. `--regrade
    --status timeout,error` redoes the verdicts a short --timeout or a loaded
    machine left behind.
    """
    console = Console(stderr=True, soft_wrap=True)
    with progress_bar(console, "grade", "{task.fields[rate]}/s · {task.fields[statuses]}") as bar:
        job = bar.add_task("grade", total=None, rate="–", statuses="")
        clock: dict[str, float] = {}

        def on_progress(done: int, total: int, counts: dict[str, int]) -> None:
            import time

            start = clock.setdefault("start", time.perf_counter())
            rate = done / max(time.perf_counter() - start, 1e-9)
            shown = " ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            bar.update(job, completed=done, total=total, rate=f"{rate:.0f}", statuses=shown)

        redo = [s.strip() for s in status.split(",") if s.strip()] if status is not None else None
        summary = grade_run(
            run, verifier, workers=workers, timeout=timeout, strict=strict, regrade=regrade,
            statuses=redo, progress=on_progress, executor=executor,
            ray=RaySpec(replicas, address, cpus_per_replica),
        )  # fmt: skip
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    if summary.sandbox is not None and summary.sandbox != "namespaces+uid":
        console.print(
            f"[bold yellow]warning:[/] code ran with sandbox level {summary.sandbox!r} (see `leash doctor`)"
        )
    rate = summary.graded / summary.seconds if summary.seconds else 0.0
    statuses: Counter[str] = Counter()
    for per in summary.by_verifier.values():
        statuses.update(per)
    shown = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "nothing new"
    held = ""
    if summary.held:
        kinds = ",".join(sorted(summary.held))
        counted = ", ".join(f"{n} {s}" for s, n in sorted(summary.held.items()))
        command = f"leash grade {run} --regrade --status {kinds}"
        held = f"; the run holds {counted} verdicts: redo them with `{command}`"
    console.print(
        f"graded {summary.graded} completions in {summary.seconds:.1f} s ({rate:.0f}/s): "
        f"{summary.correct} correct; {shown}{held}"
    )
