"""Write docs/lab.md's "support over training" section: GRPO and ProRL checkpoints, several seeds.

    python scripts/lab_series_doc.py [--out runs/lab-series] [--base PATH]

For each algorithm and seed: `leash lab rl BASE --save-every N` (skipped when its folder is
complete), then what `leash lab series` does, with the stage functions: sample and grade every
checkpoint (sampling resumes) and compare the series. Step 0 is the same model in every
training, so it is sampled once and every series starts from that run. The mean and spread over
seeds per step go between the `lab_series:` markers of docs/lab.md, the figure to
docs/lab_series.png. BASE defaults to the demo's base (`leash lab pretrain`, its defaults),
trained into OUT/models/base when missing. Set OMP_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leash.compare.series import compare_series
from leash.grading import grade_run
from leash.lab.commands import pretrain, rl
from leash.lab.rl import RLConfig
from leash.lab.series import checkpoints
from leash.lab.study import EVAL_TASKS
from leash.report import plots
from leash.sampling import SamplingParams, sample_run

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "lab.md"
BEGIN = "<!-- lab_series:begin"
END = "<!-- lab_series:end -->"
NAMES = {"grpo": "GRPO", "prorl": "ProRL"}
COLUMNS = [  # (header, value of one step's row)
    ("pass@1", lambda r: r["pass_at_1"]),
    ("pass@k_max", lambda r: r["pass_at_k_max"]),
    ("SRR", lambda r: r["support"]["SRR"]),
    ("NDR", lambda r: r["support"]["NDR"]),
    ("NSCR", lambda r: r["support"]["NSCR"]),
    ("cover@0.5", lambda r: r["cover_at"][1]),
    ("answer entropy", lambda r: r["answer_entropy"]),
]


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def section(config: dict[str, Any], series: dict[str, list[dict[str, Any]]], seconds: float) -> str:
    first = next(iter(series.values()))[0]
    k_max = first["k_max"]
    lines = [
        f"{BEGIN}: scripts/lab_series_doc.py writes this block; edit the script, not the block -->",
        f"### Measured ({config['date']}, {config['machine']}; RL {config['rl_seconds'] / 60:.0f} min "
        f"in all, this script's last pass {seconds / 60:.0f} min, load {config['load']})",
        "",
        f"Configuration: base = the demo's base; `leash lab rl --algo grpo|prorl --steps {config['steps']} "
        f"--save-every {config['save_every']}` (16 prompts x 8 samples per step, lr 3e-4, beta 0.05; "
        f"ProRL resets its reference every {config['reset_every']} steps), seeds {config['seeds']}; "
        f"`leash lab series --problems {config['problems']} --n {config['n']}` (the demo's held-out "
        f"problems, temperature 0.6, top-p 0.95). Support is against step 0 at k = {k_max}. "
        f"Each cell: mean ± standard deviation over the {len(config['seeds'])} seeds. "
        f"Commit `{config['git_revision']}`.",
        "",
    ]
    for algo, results in series.items():
        header = ["step"] + [h.replace("k_max", str(k_max)) for h, _ in COLUMNS]
        lines += [f"**{NAMES.get(algo, algo)}**", "", "| " + " | ".join(header) + " |"]
        lines.append("| ---: " * len(header) + "|")
        for i, row in enumerate(results[0]["steps"]):
            cells = [str(row["step"])]
            cells += [mean_sd([get(r["steps"][i]) for r in results]) for _, get in COLUMNS]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["![support over training](lab_series.png)", "", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "lab-series")
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--save-every", type=int, default=20)
    parser.add_argument("--reset-every", type=int, default=25)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()
    start = time.perf_counter()
    load = f"{os.getloadavg()[0]:.1f} at the start"
    base = args.base or args.out / "models" / "base"
    if not (base / "lab.json").exists():
        pretrain(base)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = {(algo, seed): args.out / "models" / f"{algo}-s{seed}" for algo in NAMES for seed in seeds}
    for (algo, seed), model in models.items():
        if not (model / "lab.json").exists():
            reset = args.reset_every if algo == "prorl" else None
            config = RLConfig(algo=algo, steps=args.steps, save_every=args.save_every, seed=seed,
                              beta=0.05, reset_every=reset)  # fmt: skip
            rl(base, model, config=config)
    tasks = EVAL_TASKS.format(problems=args.problems)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=12, stop=("\n",), seed=0)

    def sampled(model: Path, run: Path) -> Path:
        sample_run(str(model), tasks, args.n, run, params=params, batch_size=256, chat_template=False)
        grade_run(run)
        return run

    series: dict[str, list[dict[str, Any]]] = {}
    start_run = None
    for (algo, seed), model in models.items():
        steps = checkpoints(model)
        start_run = start_run or sampled(steps[0], args.out / "runs" / "step-000000")
        runs = [start_run] + [sampled(m, args.out / "runs" / f"{algo}-s{seed}" / m.name) for m in steps[1:]]
        series.setdefault(algo, []).append(compare_series(runs))
        print(f"{algo} seed {seed}: {len(runs)} steps ({time.perf_counter() - start:.0f} s)", flush=True)
    revision = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()  # fmt: skip
    config = {
        **{k: v for k, v in vars(args).items() if k not in ("out", "base")},
        "seeds": seeds,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "load": load,
        "git_revision": revision,
    }
    config["rl_seconds"] = sum(json.loads((m / "lab.json").read_text())["seconds"] for m in models.values())
    figure = plots.series_figure([(NAMES[a], r) for a, results in series.items() for r in results])
    figure.savefig(ROOT / "docs" / "lab_series.png")
    record = {"config": config, "series": series}
    (args.out / "lab_series.json").write_text(json.dumps(record, indent=1) + "\n")
    page = PAGE.read_text()
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(head + section(config, series, time.perf_counter() - start) + tail)
    print(f"rewrote {PAGE} and docs/lab_series.png ({math.ceil(time.perf_counter() - start)} s)")


if __name__ == "__main__":
    main()
