"""`leash import FILE --run DIR`: bring another tool's generations into a run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.importers import FORMATS, ImportOptions, import_generations


@user_errors
def import_command(
    file: Path = typer.Argument(
        ..., help="Generations to import (.jsonl, .jsonl.gz, .parquet or an Inspect .eval log)."
    ),
    run: Path = typer.Option(..., "--run", help="Run directory to create or extend."),
    format: str = typer.Option(
        "jsonl", "--format", "-f", help=f"Input format: {', '.join(sorted(FORMATS))}."
    ),
    tasks: Path | None = typer.Option(
        None,
        "--tasks",
        help="Task definitions (JSONL: task_id, prompt, answer, verifier, dataset, reference).",
    ),
    model: str | None = typer.Option(None, "--model", help="Name of the model that wrote the file."),
    metric: str | None = typer.Option(
        None,
        "--metric",
        help="lm-eval/lighteval: the 0/1 per-sample metric that says correct; inspect: the scorer.",
    ),
    filter: str | None = typer.Option(None, "--filter", help="lm-eval: which filter's rows to read."),
    replace: bool = typer.Option(
        False, "--replace", help="The run holds another or an edited file: move it aside, import afresh."
    ),
) -> None:
    """Import generations from JSONL, lm-eval (--log_samples), lighteval (details parquet) or an
    Inspect AI log (.eval / .json: each epoch is a sample, its score the verdict).

    JSONL rows: {"task_id", "completion", "correct"?, "answer"?, "dataset"?}; several rows
    per task are several samples. Correctness in the file goes to grades/imported/.
    Importing the same file again adds nothing; an edited file is refused unless --replace.
    """
    summary = import_generations(
        file, run, format, tasks_file=tasks, model=model,
        options=ImportOptions(metric=metric, filter=filter), replace=replace,
    )  # fmt: skip
    console = Console(stderr=True, soft_wrap=True)
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    graded = f", {summary.grades_added} graded" if summary.grades_added else ""
    console.print(
        f"imported {summary.samples_added} samples{graded} for {summary.tasks} tasks into "
        f"{summary.run} ({summary.samples_total} samples stored)"
    )
