"""`leash demo`: the whole analysis on the example shipped with leash, in seconds."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console

from leash.cli.compare_cmd import print_headline
from leash.cli.errors import user_errors
from leash.compare import compare_runs, write_comparison
from leash.importers import import_generations


@user_errors
def demo_command(
    out: Path = typer.Option(
        Path("runs/demo"), "--out", "-o", help="Where to put the runs and the comparison."
    ),
    fresh: bool = typer.Option(True, "--fresh/--keep", help="Start from an empty --out directory."),
) -> None:
    """Import the shipped example (a synthetic base and tuned run) and compare them.

    The example is synthetic: 64 Countdown-style problems, 128 samples each, shaped
    like what RLVR is reported to do. It shows the pipeline, not a finding.
    """
    console = Console(soft_wrap=True)
    if fresh and out.exists():
        shutil.rmtree(out)
    examples = resources.files("leash") / "examples"
    for name in ("base", "tuned"):
        with resources.as_file(examples / f"{name}.jsonl.gz") as path:
            summary = import_generations(path, out / name, "jsonl", model=f"example-{name}")
        console.print(f"[bold]import[/] {name}: {summary.samples_total} samples, {summary.tasks} tasks")
    console.print("[bold]compare[/] base vs tuned")
    result = compare_runs(out / "base", out / "tuned")
    json_path, md_path = write_comparison(result, out / "compare")
    print_headline(result, console)
    console.print(f"\nwrote {json_path} and {md_path}")
