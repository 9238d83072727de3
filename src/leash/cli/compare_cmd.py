"""`leash compare BASE TUNED --out DIR`: pass@k curves, support regions, entropy, significance;
`leash compare BASE STEP_1 ... STEP_m --series --out DIR`: support over the checkpoints of a training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from leash.cli.errors import user_errors
from leash.compare import compare_runs, write_comparison
from leash.compare.markdown import labels_line
from leash.errors import LeashError
from leash.tasks import check_output_file


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def print_headline(result: dict[str, Any], console: Console) -> None:
    se = result["se_gap"]
    table = Table(title="base vs tuned", title_justify="left")
    table.add_column("")
    table.add_column("base", justify="right")
    table.add_column("tuned", justify="right")
    table.add_row("pass@1", _fmt(se["pass_at_1"]["base"]), _fmt(se["pass_at_1"]["tuned"]))
    table.add_row(
        f"pass@{se['k_max']}", _fmt(se["pass_at_k_max"]["base"]), _fmt(se["pass_at_k_max"]["tuned"])
    )
    table.add_row("SE gap", _fmt(se["base"]), _fmt(se["tuned"]))
    table.add_row(
        "answer entropy", _fmt(result["answer_entropy"]["base"]), _fmt(result["answer_entropy"]["tuned"])
    )
    console.print(table)
    support = result["support"]["problem"]
    crossing = result["pass_at_k"]["crossover_k"]
    console.print(
        f"ΔSE {_fmt(se['delta_se'])}   crossover k {_fmt(crossing)}   "
        f"support at k={support['k']}: P {support['P']:g}  S {support['S']:g}  E {support['E']:g}  "
        f"O {support['O']:g}   SRR {_fmt(support['SRR'])}  NDR {_fmt(support['NDR'])}  "
        f"SDS {_fmt(support['SDS'])}  NSCR {_fmt(support['NSCR'])}"
    )
    for side in ("base", "tuned"):
        line = labels_line(result["runs"][side])
        if line is not None:
            console.print(f"labels ({side}): {line}", markup=False)
    luck = result.get("luck")
    if luck is not None:
        console.print(
            f"luck baseline ({luck['n_problems']} problems): p_guess {_fmt(luck['p_guess']['base'])} / "
            f"{_fmt(luck['p_guess']['tuned'])}; solved within luck {luck['within_luck']['base']} of "
            f"{luck['solved']['base']} / {luck['within_luck']['tuned']} of {luck['solved']['tuned']}"
        )


def _series(
    runs: list[Path], out: Path | None, json_to: str | None, k: int | None, intersect: bool,
    grader: str | None, taus: str,
) -> None:  # fmt: skip
    from leash.compare.series import compare_series, write_series
    from leash.report import plots

    try:
        tau_values = tuple(float(t) for t in taus.split(",") if t.strip())
    except ValueError as err:
        raise LeashError(f"--tau {taus!r}: give comma-separated numbers in (0, 1], e.g. 0.1,0.5,0.9") from err
    result = compare_series(runs, k=k, intersect=intersect, grader=grader, taus=tau_values)
    if json_to == "-":
        typer.echo(json.dumps(result, indent=1))
    elif json_to is not None:
        Path(json_to).write_text(json.dumps(result, indent=1) + "\n")
    if out is None:
        return
    json_path, md_path = write_series(result, out)
    console = Console(stderr=json_to == "-", soft_wrap=True)
    console.print(Path(md_path).read_text().split("\n", 2)[2].rstrip())
    written = [json_path, md_path]
    try:
        files: dict[str, bytes] = {}
        plots.save(plots.series_figure([("series", result)]), files, "series")
        for name, data in files.items():
            (out / name).write_bytes(data)
        written.append(out / "series.png")
    except LeashError as err:  # no matplotlib: the numbers are written, the figure is not
        console.print(f"no figure: {err}")
    console.print(f"wrote {', '.join(map(str, written))}")


@user_errors
def compare_command(
    runs: list[Path] = typer.Argument(
        ...,
        help="BASE TUNED: two run directories; with --series, BASE STEP_1 ... STEP_m.",
        show_default=False,
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Directory for compare.json and compare.md."),
    json_to: str | None = typer.Option(
        None, "--json", help="Write compare.json to this path; '-' for stdout."
    ),
    k: int | None = typer.Option(
        None, "--k", help="Support budget k (default: the largest n that every task has in both runs)."
    ),
    zeta: float = typer.Option(0.05, "--zeta", help="Miss probability ζ: ε = −ln ζ / k."),
    intersect: bool = typer.Option(False, "--intersect", help="Compare only the tasks both runs have."),
    grader: str | None = typer.Option(
        None, "--grader", help="Which grades/<grader>/ to use when a run has several."
    ),
    ks: str = typer.Option("pow2", "--ks", help="k values in compare.json: pow2, all, or e.g. 1,4,16."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the pass@k bands."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    alpha: float = typer.Option(0.05, "--alpha", help="False discovery rate for significant changes."),
    labels: bool = typer.Option(
        True,
        "--labels/--no-labels",
        help="Honour the manual labels of labels.parquet (leash serve): lucky → incorrect, bad-grade "
        "flips the verdict, ok keeps it. --no-labels: the grader's verdicts only.",
    ),
    series: bool = typer.Option(
        False,
        "--series",
        help="The runs are BASE and checkpoints of one training, in order: per step "
        "pass@1, pass@k_max, SRR, NDR, NSCR, cover@τ and answer entropy (series.json, .md, .png).",
    ),
    taus: str = typer.Option(
        "0.1,0.5,0.9", "--tau", help="With --series: the τ of cover@τ, comma-separated."
    ),
    luck_answers: int = typer.Option(
        64,
        "--luck-answers",
        help="Luck baseline: grade each run's N most frequent answers per dataset against every "
        "problem (0: no baseline). Costs up to 2·N·problems verdicts.",
    ),
    workers: int = typer.Option(2, "--workers", help="Verifier workers for the luck baseline."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds per verdict for the luck baseline."),
) -> None:
    """Base run vs tuned run: pass@k at every k, support dynamics, answer entropy.

    Writes compare.json (every number) and compare.md (the headline) into --out. With --series,
    BASE STEP_1 ... STEP_m are the checkpoints of one training and --out gets series.json,
    series.md and series.png (the numbers against the step).
    """
    if out is None and json_to is None:
        raise LeashError("nowhere to write: pass --out DIR, or --json - for stdout")
    if json_to not in (None, "-"):
        check_output_file(json_to, "--json")  # before the comparison, not after
    if out is not None and out.exists() and not out.is_dir():
        raise LeashError(f"--out {out}: exists and is not a directory; give a directory for compare.json")
    if series:
        _series(runs, out, json_to, k, intersect, grader, taus)
        return
    if len(runs) != 2:
        raise LeashError(
            f"compare takes BASE TUNED (got {len(runs)} run{'s' if len(runs) != 1 else ''}); "
            "for the checkpoints of one training, pass --series"
        )
    base, tuned = runs
    result = compare_runs(
        base, tuned, k=k, zeta=zeta, intersect=intersect, grader=grader, ks=ks,
        n_boot=bootstrap, seed=seed, alpha=alpha, labels=labels, luck_answers=luck_answers,
        workers=workers, timeout=timeout,
    )  # fmt: skip
    if json_to == "-":
        typer.echo(json.dumps(result, indent=1))
    elif json_to is not None:
        Path(json_to).write_text(json.dumps(result, indent=1) + "\n")
    if out is not None:
        json_path, md_path = write_comparison(result, out)
        console = Console(stderr=json_to == "-", soft_wrap=True)
        print_headline(result, console)
        console.print(f"wrote {json_path} and {md_path}")
