"""The `leash` command line: one small module per command, each a thin layer over a stage.

Errors a user can cause end in one line on stderr and exit code 2 (`user_errors`).
"""

from __future__ import annotations

import shutil

import typer

from leash import __version__
from leash.cli import (
    compare_cmd,
    demo_cmd,
    doctor_cmd,
    grade_cmd,
    import_cmd,
    lab_cmd,
    report_cmd,
    sample_cmd,
    score_cmd,
    serve_cmd,
    tasks_cmd,
    traces_cmd,
)

__all__ = ["app", "main"]

HELP_WIDTH = 100  # the widest a help line gets, in columns

app = typer.Typer(
    name="leash",
    help=(
        "Did post-training make the model able to solve more, or only more likely to pick "
        "what it could already reach? leash measures pass@k at every k and the empirical "
        "support of a base model and its tuned sibling."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help, not rich panels: rich squeezes the help into a narrow column, cuts option
    # names ("--no-chat-templa…"), shows a `<bool>` type on every flag and reads "[env X]" in a
    # help text as markup (it printed "API key ."). Help lines fill the terminal up to HELP_WIDTH;
    # HELP_WIDTH also when stdout is not a terminal (piped into less or a file).
    rich_markup_mode=None,
    context_settings={
        "max_content_width": HELP_WIDTH,
        "terminal_width": shutil.get_terminal_size((HELP_WIDTH, 24)).columns,
    },
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leash {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """leash: base vs tuned, at every k."""


app.command("tasks")(tasks_cmd.tasks_command)
app.command("sample")(sample_cmd.sample_command)
app.command("grade")(grade_cmd.grade_command)
app.command("score")(score_cmd.score_command)
app.command("import")(import_cmd.import_command)
app.add_typer(traces_cmd.app, name="traces")
app.add_typer(lab_cmd.app, name="lab")
app.command("compare")(compare_cmd.compare_command)
app.command("report")(report_cmd.report_command)
app.command("demo")(demo_cmd.demo_command)
app.command("doctor")(doctor_cmd.doctor_command)
app.command("serve")(serve_cmd.serve_command)


def main() -> None:
    app()
