"""`leash demo`: the papers' study end to end on a CPU, or the shipped example in seconds."""

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
        Path("runs/demo"), "--out", "-o", help="Where to put models, runs and the report."
    ),
    example: bool = typer.Option(
        False, "--example", help="Only compare the shipped synthetic example (seconds)."
    ),
    quick: bool = typer.Option(False, "--quick", help="The lab study at toy size (a smoke test, ~1 minute)."),
    fresh: bool = typer.Option(True, "--fresh/--keep", help="Start from an empty --out directory."),
) -> None:
    """Train a tiny base model, RL-tune it (GRPO, DAPO), distill a teacher into it, then sample,
    grade, score, compare and report — on a CPU, in about 10 minutes.

    --example instead imports a shipped synthetic base and tuned run and compares them.
    """
    console = Console(soft_wrap=True)
    if fresh and out.exists():
        shutil.rmtree(out)
    if example:
        _example(out, console)
        return
    from leash.lab.study import QUICK, StudyConfig, run_study

    result = run_study(
        out, QUICK if quick else StudyConfig(), log=lambda line: console.print(line, markup=False)
    )
    total = sum(result["seconds"].values())
    console.print(f"\nthe study took {total / 60:.1f} min; open {result['report']}")


def _example(out: Path, console: Console) -> None:
    examples = resources.files("leash") / "examples"
    for name in ("base", "tuned"):
        with resources.as_file(examples / f"{name}.jsonl.gz") as path:
            summary = import_generations(path, out / name, "jsonl", model=f"example-{name}")
        console.print(f"[bold]import[/] {name}: {summary.samples_total} samples, {summary.tasks} tasks")
    console.print(
        "[bold]compare[/] base vs tuned (a synthetic example: it shows the pipeline, not a finding)"
    )
    result = compare_runs(out / "base", out / "tuned")
    json_path, md_path = write_comparison(result, out / "compare")
    print_headline(result, console)
    console.print(f"\nwrote {json_path} and {md_path}")
