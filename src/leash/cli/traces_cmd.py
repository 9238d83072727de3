"""`leash traces import FILE --tasks RUN --name SOURCE`: reference solutions as a run of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.errors import LeashError
from leash.importers import import_generations
from leash.store import open_run

app = typer.Typer(
    help="External reasoning traces, such as a stronger model's solutions, to score and compare."
)


@app.command("import")
@user_errors
def traces_import(
    file: Path = typer.Argument(..., help="JSONL of traces: task_id, completion (correct, answer optional)."),
    tasks: Path = typer.Option(..., "--tasks", help="The run whose tasks the traces solve."),
    name: str = typer.Option(..., "--name", help="Where the traces come from (e.g. deepseek-r1)."),
    run: Path | None = typer.Option(
        None, "--run", help="Run directory for the traces [default: beside --tasks]."
    ),
) -> None:
    """Store reference traces as a run, with the tasks of --tasks, ready for `leash score`."""
    source = open_run(tasks)
    if not source.tasks_path.exists():
        raise LeashError(f"--tasks {tasks}: the run has no tasks.parquet")
    target = run or tasks.parent / f"traces-{name}"
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "tasks.parquet").exists():
        shutil.copy(source.tasks_path, target / "tasks.parquet")
    summary = import_generations(file, target, "jsonl", model=f"traces:{name}")
    Console(stderr=True, soft_wrap=True).print(
        f"imported {summary.samples_added} traces of {name} for {summary.tasks} tasks into {summary.run}; "
        f"score them with `leash score {summary.run} --model BASE`"
    )
