"""`leash serve RUN [RUN ...]`: browse the samples behind every number, and label them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from leash.browse import serve
from leash.cli.errors import user_errors


@user_errors
def serve_command(
    runs: list[Path] = typer.Argument(..., help="Run directories: the base first, then tuned runs."),
    port: int = typer.Option(7860, "--port", "-p", help="TCP port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; anything but loopback needs --token."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="LEASH_SERVE_TOKEN",
        help="A secret every request must carry (env LEASH_SERVE_TOKEN).",
    ),
    grader: str | None = typer.Option(
        None, "--grader", help="Which grades/<grader>/ when a run has several."
    ),
    intersect: bool = typer.Option(False, "--intersect", help="Browse only the tasks every run has graded."),
) -> None:
    """A local web page over graded runs: the overview, problems by region, the correct answers
    the base found and the tuned model lost, completions side by side.

    Label a sample with a keystroke (o ok, l lucky, b bad-grade, n note): the label is written to
    the run's labels.parquet at once and `leash compare` honours it.
    """
    console = Console(soft_wrap=True, stderr=True)
    console.print(f"opening {len(runs)} run(s) ...", markup=False)

    def ready(url: str) -> None:
        console.print(f"leash serve: open {url}  (Ctrl-C stops)", markup=False)

    serve([str(r) for r in runs], host=host, port=port, token=token, grader=grader, intersect=intersect,
          on_ready=ready)  # fmt: skip
