"""`leash demo`: the papers' study end to end on a CPU, or the shipped example in seconds.

The output directory is marked as the demo's own: `<out>/.leash-demo` lists the entries
the demo made. The demo writes only into a missing or empty directory or one with that
mark, and --fresh removes only the entries the mark lists: nothing leash did not create
is ever deleted (not `--out .`, not a user's files beside an old demo output).
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console

from leash.cli.compare_cmd import print_headline
from leash.cli.errors import user_errors
from leash.compare import compare_runs, write_comparison
from leash.errors import LeashError
from leash.importers import import_generations

MARKER = ".leash-demo"
# Everything the demo can make in --out; --fresh removes only these (and only those the mark lists).
EXAMPLE_ENTRIES = ("base", "tuned", "compare")
STUDY_ENTRIES = ("models", "runs", "report", "study.json")


@user_errors
def demo_command(
    out: Path = typer.Option(
        Path("runs/demo"), "--out", "-o", help="Where to put models, runs and the report."
    ),
    example: bool = typer.Option(
        False, "--example", help="Only compare the shipped synthetic example (seconds)."
    ),
    quick: bool = typer.Option(False, "--quick", help="The lab study at toy size (a smoke test, ~1 minute)."),
    fresh: bool = typer.Option(
        True,
        "--fresh/--keep",
        help="Replace what an earlier demo made in --out (only that; other files are never touched).",
    ),
) -> None:
    """Train a tiny base model, RL-tune it (GRPO, DAPO), distill a teacher into it, then sample,
    grade, score, compare and report — on a CPU, in about 13 minutes on 2 cores.

    --example instead imports a shipped synthetic base and tuned run and compares them.
    --out must be missing, empty or an earlier demo's output (it holds .leash-demo).
    """
    console = Console(soft_wrap=True)
    prepare_out(out, EXAMPLE_ENTRIES if example else STUDY_ENTRIES, fresh)
    if example:
        _example(out, console)
        return
    from leash.lab.study import QUICK, StudyConfig, run_study

    result = run_study(
        out, QUICK if quick else StudyConfig(), log=lambda line: console.print(line, markup=False)
    )
    total = sum(result["seconds"].values())
    console.print(f"\nthe study took {total / 60:.1f} min; open {result['report']}")
    console.print(
        "browse the samples: leash serve " + " ".join(str(out / "runs" / n) for n in result["models"])
    )


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
    console.print(f"browse the samples: leash serve {out / 'base'} {out / 'tuned'}")


def _marked_entries(out: Path) -> list[str] | None:
    """The entries the mark in `out` lists, or None when `out` has no mark."""
    marker = out / MARKER
    if not marker.is_file():
        return None
    try:
        entries = json.loads(marker.read_text())["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        raise LeashError(
            f"--out {out}: {marker} is unreadable; remove the directory yourself or choose another --out"
        ) from None
    # Only names the demo can make: a hand-edited mark cannot point anywhere else.
    return [e for e in entries if e in EXAMPLE_ENTRIES + STUDY_ENTRIES]


def prepare_out(out: Path, entries: tuple[str, ...], fresh: bool) -> None:
    """Make `out` ready for a demo that will make `entries`, or refuse in one line before writing.

    `out` must be missing, empty or marked (an earlier demo's output). With `fresh`, the entries
    the mark lists are removed (a link is unlinked, never followed); nothing else in `out` is.
    The new mark, written first, lists what this demo makes, so a crash leaves it marked.
    """
    if out.exists() and not out.is_dir():
        raise LeashError(f"--out {out} is a file, not a directory; choose another --out")
    marked = _marked_entries(out) if out.exists() else None
    if marked is None and out.exists() and any(out.iterdir()):
        first = sorted(p.name for p in out.iterdir())[0]
        raise LeashError(
            f"--out {out} is not empty and not a leash demo output (it holds {first!r}, no {MARKER}); "
            "choose another --out or empty it"
        )
    foreign = [n for n in entries if marked is not None and n not in marked and os.path.lexists(out / n)]
    if foreign:  # a demo output where someone has since put a folder the demo would write into
        raise LeashError(
            f"--out {out}: {foreign[0]!r} there was not made by leash demo; choose another --out or move it"
        )
    kept = []
    for name in marked or []:
        path = out / name
        if not fresh:
            kept.append(name)
        elif path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    out.mkdir(parents=True, exist_ok=True)
    listed = sorted(set(kept) | set(entries))
    (out / MARKER).write_text(json.dumps({"made_by": "leash demo", "entries": listed}) + "\n")
