"""`leash lab ...`: tiny models trained and RL-tuned on a CPU, saved as ordinary HF folders."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from leash.cli.errors import user_errors
from leash.lab.rl import ALGOS, PRESETS, RLConfig

app = typer.Typer(
    help="Tiny models on a CPU: pretrain, RL-tune, SFT on own samples, distill, support over training, "
    "algorithm sweeps.",
    no_args_is_help=True,
)


def _done(record: dict, out: Path) -> None:
    Console(soft_wrap=True).print(
        f"wrote {out} ({json.dumps({k: v for k, v in record.items() if k != 'command'})})"
    )


@app.command("pretrain")
@user_errors
def pretrain_command(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the checkpoint."),
    problems: int = typer.Option(6000, "--problems", help="Training problems (lab:arith family)."),
    steps: int = typer.Option(2000, "--steps", help="Optimizer steps (batch 64)."),
    correct_share: float = typer.Option(
        0.35, "--correct-share", help="Share of correct solutions in the data."
    ),
    teacher: bool = typer.Option(
        False, "--teacher", help="Weight every solution mode equally (a stronger teacher)."
    ),
    hidden: int = typer.Option(128, "--hidden", help="Model width (a multiple of 4; 128: 0.67M parameters)."),
    layers: int = typer.Option(4, "--layers", help="Transformer layers."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train a tiny base model on correct solutions of every mode (frequent and rare) and failed attempts."""
    from leash.lab.commands import pretrain

    record = pretrain(
        out, problems=problems, steps=steps, correct_share=correct_share, teacher=teacher, hidden=hidden,
        layers=layers, seed=seed,
    )  # fmt: skip
    _done(record, out)


def _preset(name: str) -> dict[str, float]:
    from leash.errors import LeashError

    if name not in PRESETS:
        raise LeashError(f"--preset {name!r}: choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


@app.command("rl")
@user_errors
def rl_command(
    base: Path = typer.Argument(..., help="The checkpoint to tune."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the tuned checkpoint."),
    algo: str = typer.Option("grpo", "--algo", help=f"One of: {', '.join(sorted(ALGOS))}."),
    tasks: str = typer.Option("lab:arith?size=2000&seed=7", "--tasks", help="Training tasks."),
    steps: int = typer.Option(100, "--steps"),
    prompts: int = typer.Option(16, "--prompts", help="Prompts per step."),
    group: int = typer.Option(8, "--group", help="Samples per prompt."),
    preset: str = typer.Option(
        "fast", "--preset", help="lr and KL weight: fast (3e-4, 0.05) or papers (1e-4, 0.2; docs/lab.md)."
    ),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (default: the preset's)."),
    beta: float | None = typer.Option(
        None, "--beta", help="KL coefficient to the reference (0: none, as DAPO; default: the preset's)."
    ),
    reset_every: int | None = typer.Option(
        None,
        "--reset-every",
        help="Reset the reference to the current policy every R steps (ProRL; "
        "default: 50 for prorl, never for the others; 0: never).",
    ),
    save_every: int = typer.Option(
        0, "--save-every", help="Also save OUT/step-NNNNNN every N steps, step 0 (the start) included."
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """RL with the verifier as reward: grpo, rloo, reinforce_pp, dapo, prorl, ppo or a variant (--algo)."""
    from leash.lab.commands import rl

    chosen = _preset(preset)
    config = RLConfig(
        algo=algo, steps=steps, prompts_per_step=prompts, group=group, seed=seed,
        lr=chosen["lr"] if lr is None else lr, beta=chosen["beta"] if beta is None else beta,
        reset_every=reset_every, save_every=save_every,
    )  # fmt: skip
    _done(rl(base, out, tasks=tasks, config=config), out)


@app.command("series")
@user_errors
def series_command(
    checkpoints: Path = typer.Argument(
        ..., help="The --out of `leash lab rl --save-every N` (step-* folders)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the runs, series.json, .md and .png."),
    problems: int = typer.Option(
        64, "--problems", help="Held-out problems (the demo's lab:arith seed 1000)."
    ),
    n: int = typer.Option(256, "--n", "-n", help="Samples per problem and checkpoint."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
) -> None:
    """Sample, grade and compare every checkpoint of one RL training: support over the steps."""
    from leash.lab.series import run_series

    console = Console(soft_wrap=True)
    log = lambda line: console.print(line, markup=False)  # noqa: E731  ("[step-000020]" is no markup)
    result = run_series(checkpoints, out, problems=problems, n=n, seed=seed, log=log)
    console.print((out / "series.md").read_text().split("\n", 2)[2].rstrip())
    console.print(f"wrote {out / 'series.json'}, {out / 'series.md'}, {out / 'series.png'} "
                  f"({len(result['steps'])} steps)")  # fmt: skip


def _names(text: str, what: str, kind: type = str) -> tuple:
    from leash.errors import LeashError

    try:
        names = tuple(kind(x.strip()) for x in text.split(",") if x.strip())
    except ValueError as err:
        raise LeashError(f"{what} {text!r}: give a comma-separated list of {kind.__name__}s") from err
    if not names:
        raise LeashError(f"{what} {text!r}: give a comma-separated list of {kind.__name__}s")
    return names


@app.command("sweep")
@user_errors
def sweep_command(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for models, runs, sweep.json, .md and .png."),
    base: Path | None = typer.Option(
        None,
        "--base",
        help="The base checkpoint every algorithm starts from (default: pretrain one into OUT).",
    ),
    algos: str | None = typer.Option(
        None,
        "--algos",
        help="Comma-separated algorithms (default: grpo,ppo,passk,pkpo,w_reinforce,unlikely,answer_bonus).",
    ),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma-separated RL seeds (default: 0,1,2)."),
    steps: int | None = typer.Option(None, "--steps", help="RL steps per training (default 150)."),
    prompts: int | None = typer.Option(None, "--prompts", help="Prompts per RL step (default 16)."),
    group: int | None = typer.Option(None, "--group", help="Samples per prompt in RL (default 8)."),
    problems: int | None = typer.Option(
        None, "--problems", help="Held-out problems (the demo's lab:arith seed 1000; default 64)."
    ),
    n: int | None = typer.Option(None, "--n", "-n", help="Samples per problem and model (default 1024)."),
    score: bool | None = typer.Option(
        None, "--score/--no-score", help="Token entropy: score each run under its own model (default: score)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", help="RL lr and KL weight: fast (default: 3e-4, 0.05) or papers (1e-4, 0.2)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Toy size (grpo,ppo x seeds 0,1; 2 steps; 4 problems x 8): a smoke test."
    ),
) -> None:
    """Train algorithms x seeds from one base, sample, grade, compare: one table, one pass@k figure."""
    from dataclasses import replace

    from leash.lab.sweep import QUICK_SWEEP, SweepConfig, run_sweep

    changes: dict = {
        "algos": _names(algos, "--algos") if algos is not None else None,
        "seeds": _names(seeds, "--seeds", int) if seeds is not None else None,
        "rl_steps": steps, "prompts_per_step": prompts, "group": group, "problems": problems, "n": n,
        "score": score, **(_preset(preset) if preset is not None else {}),
    }  # fmt: skip
    config = replace(
        QUICK_SWEEP if quick else SweepConfig(), **{k: v for k, v in changes.items() if v is not None}
    )
    console = Console(soft_wrap=True)
    log = lambda line: console.print(line, markup=False)  # noqa: E731  ("[base]" is no markup)
    result = run_sweep(out, config, base=base, log=log)
    console.print((out / "sweep.md").read_text().split("\n", 2)[2].rstrip())
    console.print(f"wrote {out / 'sweep.json'}, {out / 'sweep.md'}, {out / 'sweep.png'} "
                  f"({len(result['algos'])} algorithms x {len(result['seeds'])} seeds)")  # fmt: skip


@app.command("sft-self")
@user_errors
def sft_self_command(
    base: Path = typer.Argument(..., help="The checkpoint to fine-tune on its own correct samples."),
    out: Path = typer.Option(..., "--out", "-o"),
    steps: int = typer.Option(300, "--steps"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """SFT on the model's own correct samples (Yue et al.'s comparison with RL)."""
    from leash.lab.commands import sft_self

    _done(sft_self(base, out, steps=steps, seed=seed), out)


@app.command("distill")
@user_errors
def distill_command(
    teacher: Path = typer.Option(..., "--teacher", help="A stronger model (e.g. pretrain --teacher)."),
    student: Path = typer.Option(..., "--student", help="The model to train on the teacher's samples."),
    out: Path = typer.Option(..., "--out", "-o"),
    steps: int = typer.Option(300, "--steps"),
    tasks: str = typer.Option(
        "lab:arith?size=1000&seed=7", "--tasks", help="Training problems the teacher answers."
    ),
    per_task: int = typer.Option(8, "--per-task", help="Teacher samples per problem (correct ones kept)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the student on the teacher's correct samples."""
    from leash.lab.commands import distill

    _done(distill(teacher, student, out, tasks=tasks, per_task=per_task, steps=steps, seed=seed), out)
