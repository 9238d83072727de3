"""`leash tasks SPEC`: preview a task source, or save it for offline use."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from leash.cli.errors import user_errors
from leash.tasks import Columns, check_output_file, load_tasks, write_task_file
from leash.tasks.sources import RG_GOLD_NOT_ONE, RG_SCORER_RAISES, parse_spec


def rg_warning(spec: str) -> str | None:
    """A line on what reasoning-gym itself does with the chosen dataset, when it is one of those
    whose own answer does not score 1.0 or whose scorer raises (docs/grade.md)."""
    kind, name, _ = parse_spec(spec)
    reason = RG_GOLD_NOT_ONE.get(name) or RG_SCORER_RAISES.get(name) if kind == "rg" else None
    return f"warning: reasoning-gym {name}: {reason} (docs/grade.md)" if reason else None


@user_errors
def tasks_command(
    spec: str = typer.Argument(
        ...,
        help="rg:NAME?size=&seed=, file:PATH, hf:ORG/NAME?split=, or a preset (math500, gsm8k, ...).",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the tasks to this JSONL file."),
    show: int = typer.Option(3, "--show", help="How many tasks to preview."),
    limit: int | None = typer.Option(None, "--limit", help="Keep only the first N tasks (0: all)."),
    id_col: str = typer.Option("task_id", "--id-col", help="file:/hf: column with the task id."),
    prompt_col: str = typer.Option("prompt", "--prompt-col", help="file:/hf: column with the question."),
    answer_col: str = typer.Option("answer", "--answer-col", help="file:/hf: column with the gold answer."),
) -> None:
    """Preview the tasks a spec names (count, first few), or save them with --out."""
    if out is not None:
        check_output_file(out, "--out")  # before a slow load, not after
    tasks = load_tasks(spec, Columns(id_col, prompt_col, answer_col), limit)
    console = Console(soft_wrap=True)
    table = Table(title=f"{spec}: {len(tasks)} tasks", title_justify="left", show_lines=True)
    for column in ("task_id", "dataset", "verifier", "question", "answer"):
        table.add_column(column, overflow="fold")
    for task in tasks[:show]:
        answer = (task.reference or {}).get("answer")
        if answer is None and task.reference and "entry" in task.reference:
            answer = task.reference["entry"].get("answer")
        flat = task.question.replace("\n", " ⏎ ")
        question = flat if len(flat) <= 160 else flat[:160] + " …"
        table.add_row(task.task_id, task.dataset, task.verifier or "–", question, str(answer or "–"))
    console.print(table)
    warning = rg_warning(spec)
    if warning is not None:
        Console(stderr=True, soft_wrap=True).print(warning, style="yellow")
    if out is not None:
        write_task_file(tasks, out)
        console.print(f"wrote {len(tasks)} tasks to {out} (use it with --tasks file:{out})")
