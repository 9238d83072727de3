"""`leash doctor [RUN]`: what this machine offers leash; with RUN, whether the run is sound."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from leash.cli.errors import user_errors
from leash.errors import LeashError
from leash.grading.sandbox import probe


@user_errors
def doctor_command(
    run: Path | None = typer.Argument(
        None, help="A run directory to check (shards, duplicates, temp files)."
    ),
    repair: bool = typer.Option(
        False,
        "--repair",
        "--quarantine",
        help="Move damaged shards and temp files to RUN/quarantine/; "
        "rewrite shards holding repeated keys (the first copy is kept). Nothing is deleted.",
    ),
) -> None:
    """Report the sandbox layers and optional parts here; with RUN, check the run (exit 1 if unsound)."""
    if run is not None:
        _check(run, repair)
        return
    _machine()


def _check(path: Path, repair: bool) -> None:
    from leash.doctor import check_run, repair_run
    from leash.store import Run

    run = Run(path)
    if not run.meta_path.exists():
        raise LeashError(f"run {path}: not a leash run (no run.json); check the path")
    run.meta()  # an unreadable run.json is one line
    findings = check_run(run)
    console = Console(soft_wrap=True)
    problems = [f for f in findings if f.kind != "pending"]
    for f in findings:
        where = f.path.relative_to(run.path)
        console.print(f"{'note' if f.kind == 'pending' else f.kind}: {where}: {f.detail}")
    if not problems:
        console.print(f"run {path}: every shard reads, no key is stored twice, no temp file left")
        return
    if not repair:
        console.print(
            f"{len(problems)} problems; `leash doctor {path} --repair` moves them to {path}/quarantine/"
        )
        raise typer.Exit(1)
    for line in repair_run(run, problems):
        console.print(line)


def _machine() -> None:
    caps = probe()
    console = Console(soft_wrap=True)
    table = Table(title="sandbox", title_justify="left")
    table.add_column("layer")
    table.add_column("here")
    table.add_row("separate process, session, rlimits (prlimit)", "yes" if caps.prlimit else "no prlimit")
    table.add_row("dedicated unprivileged uid", "yes" if caps.uid_switch else "no")
    table.add_row("network + PID namespaces (unshare)", "yes" if caps.namespaces else "no")
    table.add_row("Landlock + seccomp", "not used")
    table.add_row("interpreter for sandboxed code", caps.interpreter)
    console.print(table)
    console.print(
        f"sandbox level: [bold]{caps.level}[/]" + ("" if caps.full else "  (grade --strict refuses)")
    )
    for note in caps.notes:
        console.print(f"  - {note}")
    parts = Table(title="optional parts", title_justify="left")
    parts.add_column("extra")
    parts.add_column("module")
    parts.add_column("installed")
    optional = [
        ("hf", "torch"), ("hf", "transformers"), ("math", "math_verify"), ("rg", "reasoning_gym"),
        ("hub", "datasets"), ("openai", "httpx"), ("vllm", "vllm"), ("ray", "ray"),
    ]  # fmt: skip
    for extra, module in optional:
        parts.add_row(extra, module, "yes" if importlib.util.find_spec(module) else "no")
    console.print(parts)
