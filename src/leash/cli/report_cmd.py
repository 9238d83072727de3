"""`leash report BASE TUNED [MORE ...] --out DIR`: an offline HTML report with the papers' figures."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.report import build_report


@user_errors
def report_command(
    runs: list[Path] | None = typer.Argument(None, help="The base run, then one or more tuned runs."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Directory for report.html, report.md, figures, compare.json."
    ),
    from_dir: Path | None = typer.Option(
        None, "--from", help="Build from an existing compare directory instead."
    ),
    k: int | None = typer.Option(
        None, "--k", help="Support budget k (default: the largest n every task has)."
    ),
    intersect: bool = typer.Option(False, "--intersect", help="Compare only the tasks the runs share."),
    grader: str | None = typer.Option(None, "--grader", help="Which grades/<grader>/ to use."),
    luck_answers: int = typer.Option(
        64,
        "--luck-answers",
        help="Luck baseline: grade each run's N most frequent answers per dataset against every "
        "problem (0: no baseline).",
    ),
    workers: int = typer.Option(2, "--workers", help="Verifier workers for the luck baseline."),
) -> None:
    """Write report.html (offline, self-contained), report.md, the figures and compare.json."""
    options = {"k": k, "intersect": intersect, "grader": grader, "luck_answers": luck_answers,
               "workers": workers}  # fmt: skip
    path = build_report([str(r) for r in runs or []], out, compare_dir=from_dir, compare_options=options)
    Console(soft_wrap=True).print(f"wrote {path} (open it in a browser; it needs no network)")
