"""`leash lab sweep`: many RL algorithms x seeds from one base, measured on support.

For every algorithm and seed: `rl` from the base, then sample the demo's held-out problems at the
papers' temperature 0.6 / top-p 0.95, grade, optionally score (token entropy under the run's own
model), and `compare_runs` against the base's run. Per algorithm, across seeds:

    pass@1, pass@k_max          mean over problems (k_max = n)
    SRR, NDR, NSCR              problem-grain support regions against the base at k = n
    answer entropy              mean over problems of -sum p ln p over canonical answers
    token entropy               mean per-token entropy under the run's own model (with `score`)

reported as mean ± sample standard deviation over seeds (and min, max in sweep.json). DIR gets
models/<algo>-s<seed>/, runs/base/ and runs/<algo>-s<seed>/, compare/<algo>-s<seed>/compare.json,
sweep.json, sweep.md and sweep.png (every algorithm's mean pass@k curve, a band from its lowest to
its highest seed). A second call reuses what is there: trained models are kept (their lab.json
marks them finished) and sampling resumes.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from leash.compare import compare_runs, write_comparison
from leash.errors import LeashError
from leash.grading import grade_run
from leash.lab.commands import pretrain, rl
from leash.lab.rl import ALGOS, RLConfig
from leash.lab.study import EVAL_TASKS
from leash.sampling import SamplingParams, sample_run
from leash.scoring import score_run

__all__ = ["METRICS", "QUICK_SWEEP", "SweepConfig", "run_sweep", "summarise"]

DEFAULT_ALGOS = ("grpo", "ppo", "passk", "pkpo", "w_reinforce", "unlikely", "answer_bonus")
METRICS = ("pass_at_1", "pass_at_k_max", "SRR", "NDR", "NSCR", "answer_entropy", "token_entropy")


@dataclass(frozen=True)
class SweepConfig:
    algos: tuple[str, ...] = DEFAULT_ALGOS
    seeds: tuple[int, ...] = (0, 1, 2)
    rl_steps: int = 150
    prompts_per_step: int = 16
    group: int = 8
    lr: float = 3e-4  # the `fast` preset (leash.lab.rl.PRESETS)
    beta: float = 0.05  # KL to the base for every algorithm but dapo (0, by design), as in the study
    problems: int = 64  # held-out evaluation problems
    n: int = 1024  # samples per problem and model
    score: bool = True  # token entropy: each run scored under its own model
    pretrain_steps: int = 2000  # only when no base is given


QUICK_SWEEP = SweepConfig(
    algos=("grpo", "ppo"), seeds=(0, 1), rl_steps=2, prompts_per_step=4, group=4, problems=4, n=8,
    score=False, pretrain_steps=60,
)  # fmt: skip


def _check(config: SweepConfig) -> None:
    unknown = [a for a in config.algos if a not in ALGOS]
    if unknown:
        raise LeashError(f"--algos: unknown {', '.join(unknown)}; choose from: {', '.join(sorted(ALGOS))}")
    if not config.algos or not config.seeds:
        raise LeashError("--algos and --seeds each need at least one entry")
    if len(set(config.seeds)) != len(config.seeds) or len(set(config.algos)) != len(config.algos):
        raise LeashError("--algos and --seeds: each entry once")
    if config.problems < 1 or config.n < 1 or config.rl_steps < 1:
        raise LeashError(
            f"--problems {config.problems} --n {config.n} --steps {config.rl_steps}: each must be >= 1"
        )
    if config.group < 2 or config.prompts_per_step < 1:
        raise LeashError(f"--group {config.group} --prompts {config.prompts_per_step}: need >= 2 and >= 1")
    if importlib.util.find_spec("matplotlib") is None:  # before training, not after
        raise LeashError("leash lab sweep draws sweep.png with matplotlib: pip install 'leash[report]'")


def _row(result: dict[str, Any]) -> dict[str, Any]:
    """The sweep's numbers for one tuned run out of its compare.json."""
    support = result["support"]["problem"]
    entropy = result["entropy"]["tuned"]["all"]
    return {
        "pass_at_1": result["se_gap"]["pass_at_1"]["tuned"],
        "pass_at_k_max": result["se_gap"]["pass_at_k_max"]["tuned"],
        "SRR": support["SRR"],
        "NDR": support["NDR"],
        "NSCR": support["NSCR"],
        "answer_entropy": result["answer_entropy"]["tuned"],
        "token_entropy": entropy["token_entropy"],
        "curve": result["pass_at_k"]["tuned"],
    }


def _spread(values: list[float | None]) -> dict[str, Any]:
    """mean, sample sd (0 for one seed), min and max of the values that are defined; None if none is."""
    xs = [v for v in values if v is not None]
    if not xs:
        return {"mean": None, "sd": None, "min": None, "max": None, "seeds": 0}
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return {"mean": statistics.fmean(xs), "sd": sd, "min": min(xs), "max": max(xs), "seeds": len(xs)}


def summarise(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per algorithm: every metric's spread across seeds, and the pass@k curve's mean, min and max."""
    out: dict[str, Any] = {}
    for algo, runs in rows.items():
        block = {m: _spread([r[m] for r in runs]) for m in METRICS}
        curves = list(zip(*[r["curve"] for r in runs], strict=True))  # per k, one value per seed
        block["curve"] = {
            "mean": [_spread(list(c))["mean"] for c in curves],
            "min": [_spread(list(c))["min"] for c in curves],
            "max": [_spread(list(c))["max"] for c in curves],
        }
        out[algo] = block
    return out


def _cell(spread: dict[str, Any]) -> str:
    if spread["mean"] is None:
        return "—"
    return f"{spread['mean']:.3f} ± {spread['sd']:.3f}"


def render_sweep_markdown(result: dict[str, Any]) -> str:
    """sweep.md: the base, then one row per algorithm (mean ± sd across seeds)."""
    k_max = result["k_max"]
    head = ["model", "seeds", "pass@1", f"pass@{k_max}", "SRR", "NDR", "NSCR", "answer entropy",
            "token entropy"]  # fmt: skip
    base = result["base"]
    lines = [
        f"# Sweep: {len(result['algos'])} algorithms x {len(result['seeds'])} seeds "
        f"({result['n_problems']} problems, n = {result['n']}, support at k = {k_max})",
        "",
        "| " + " | ".join(head) + " |",
        "| --- | ---: | " + " | ".join(["---:"] * (len(head) - 2)) + " |",
    ]

    def fixed(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    lines.append(
        "| base | – | " + " | ".join([fixed(base["pass_at_1"]), fixed(base["pass_at_k_max"]), "1", "0", "0",
                                        fixed(base["answer_entropy"]), fixed(base["token_entropy"])]) + " |"
    )  # fmt: skip
    for algo in result["algos"]:
        block = result["summary"][algo]
        cells = [algo, str(block["pass_at_1"]["seeds"])] + [_cell(block[m]) for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("mean ± sample standard deviation across seeds; SRR, NDR, NSCR against the base at k = n.")
    if not result["scored"]:
        lines.append("Token entropy: not scored (pass --score).")
    return "\n".join(lines) + "\n"


def run_sweep(
    out: str | Path,
    config: SweepConfig = SweepConfig(),
    *,
    base: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, sample, grade (and score) every algorithm x seed from one base; returns sweep.json."""
    _check(config)
    out = Path(out)
    if base is not None and not (Path(base) / "config.json").exists():
        raise LeashError(
            f"--base {base}: not a model folder (no config.json); make one with `leash lab pretrain`"
        )
    models, runs, compares = out / "models", out / "runs", out / "compare"
    if base is None:
        base = models / "base"
        if not (base / "lab.json").exists():
            log(f"[pretrain base] {config.pretrain_steps} steps")
            pretrain(base, steps=config.pretrain_steps, seed=0)
    tasks = EVAL_TASKS.format(problems=config.problems)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=12, stop=("\n",), seed=0)
    seconds: dict[str, float] = {}

    def evaluate(name: str, model: Path) -> Path:
        start = time.perf_counter()
        run = runs / name
        log(f"[{name}] sample {config.problems} x {config.n}, grade{', score' if config.score else ''}")
        sample_run(str(model), tasks, config.n, run, params=params, batch_size=256, chat_template=False)
        grade_run(run)
        if config.score:
            score_run(run, str(model), batch_size=64)
        seconds[f"evaluate {name}"] = round(time.perf_counter() - start, 1)
        return run

    base_run = evaluate("base", Path(base))
    rows: dict[str, list[dict[str, Any]]] = {}
    base_numbers: dict[str, Any] = {}
    for algo in config.algos:
        rows[algo] = []
        for seed in config.seeds:
            name = f"{algo}-s{seed}"
            model = models / name
            if not (model / "lab.json").exists():
                log(f"[{name}] rl {config.rl_steps} steps")
                start = time.perf_counter()
                rl_config = RLConfig(
                    algo=algo, steps=config.rl_steps, prompts_per_step=config.prompts_per_step,
                    group=config.group, lr=config.lr, beta=0.0 if algo == "dapo" else config.beta,
                    seed=seed,
                )  # fmt: skip
                rl(base, model, config=rl_config)
                seconds[f"rl {name}"] = round(time.perf_counter() - start, 1)
            run = evaluate(name, model)
            result = compare_runs(base_run, run, n_boot=200)
            write_comparison(result, compares / name)
            rows[algo].append({"seed": seed, "model": str(model), **_row(result)})
            if not base_numbers:
                entropy = result["entropy"]["base"]["all"]
                base_numbers = {
                    "pass_at_1": result["se_gap"]["pass_at_1"]["base"],
                    "pass_at_k_max": result["se_gap"]["pass_at_k_max"]["base"],
                    "answer_entropy": result["answer_entropy"]["base"],
                    "token_entropy": entropy["token_entropy"],
                    "curve": result["pass_at_k"]["base"],
                    "k": result["pass_at_k"]["k"],
                    "k_max": result["se_gap"]["k_max"],
                }
    result = {
        "leash_sweep_version": 1,
        "config": {**asdict(config), "base": str(base)},
        "algos": list(config.algos),
        "seeds": list(config.seeds),
        "n_problems": config.problems,
        "n": config.n,
        "k_max": base_numbers["k_max"],
        "scored": config.score,
        "base": base_numbers,
        "runs": rows,
        "summary": summarise(rows),
        "seconds": seconds,
    }
    _write(result, out)
    return result


def _write(result: dict[str, Any], out: Path) -> None:
    from leash.report import plots

    files: dict[str, bytes] = {}
    curves = {algo: result["summary"][algo]["curve"] for algo in result["algos"]}
    plots.save(plots.sweep_figure(result["base"]["k"], result["base"]["curve"], curves), files, "sweep")
    texts = {"sweep.json": json.dumps(result, indent=1) + "\n", "sweep.md": render_sweep_markdown(result)}
    for name, text in texts.items():
        tmp = out / f".{name}.partial"
        tmp.write_text(text)
        tmp.replace(out / name)
    for name, data in files.items():
        (out / name).write_bytes(data)
