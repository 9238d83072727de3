"""The papers' study on a CPU: train a base, RL-tune it twice, distill, then sample → grade →
score → compare → report, every stage through leash's own public functions.

    base       pretrain: correct solutions of every mode, frequent modes favoured, and failures
    teacher    pretrain --teacher: every mode equally, trained longer
    grpo, dapo rl from the base (the verifier as reward)
    distilled  the base fine-tuned on the teacher's correct samples

Evaluation: 64 held-out problems, n samples each at the papers' temperature 0.6 and
top-p 0.95. Nothing in the evaluation is tuned to force a result. `<out>/study.json`
records the configuration, the seconds per stage, the git commit and the machine;
scripts/lab_doc.py turns it and the report into docs/lab.md's results.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leash.grading import grade_run
from leash.lab.commands import distill, pretrain, rl
from leash.lab.rl import RLConfig
from leash.report import build_report
from leash.sampling import SamplingParams, sample_run
from leash.scoring import score_run
from leash.store import provenance

__all__ = ["StudyConfig", "run_study"]

EVAL_TASKS = "lab:arith?size={problems}&seed=1000"  # held out: training tasks use other seeds


@dataclass(frozen=True)
class StudyConfig:
    problems: int = 64  # evaluation problems
    n: int = 1024  # samples per problem and model
    pretrain_steps: int = 2000
    teacher_steps: int = 3000
    rl_steps: int = 150
    distill_steps: int = 300
    distill_problems: int = 1000  # training problems the teacher samples 8 answers for
    algos: tuple[str, ...] = ("grpo", "dapo")
    score: bool = True  # token entropy and perplexity (each run under the base)
    seed: int = 0


QUICK = StudyConfig(
    problems=8, n=16, pretrain_steps=60, teacher_steps=60, rl_steps=2, distill_steps=5, distill_problems=40
)

Log = Callable[[str], None]


def _bind(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: fn(*args, **kwargs)


def run_study(out: str | Path, config: StudyConfig = StudyConfig(), log: Log = print) -> dict[str, Any]:
    """Run the whole study into `out`; returns wall seconds per stage and the report's path."""
    out = Path(out)
    models, runs = out / "models", out / "runs"
    times: dict[str, float] = {}
    made_by = _made_by()  # the checkout as the study starts: the code that runs

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        log(f"[{name}] ...")
        start = time.perf_counter()
        result = fn()
        times[name] = round(time.perf_counter() - start, 1)
        log(f"[{name}] done in {times[name]:.0f} s")
        return result

    base, teacher = models / "base", models / "teacher"
    stage("pretrain base", lambda: pretrain(base, steps=config.pretrain_steps, seed=config.seed))
    stage(
        "pretrain teacher",
        lambda: pretrain(teacher, steps=config.teacher_steps, teacher=True, seed=config.seed + 1),
    )
    for algo in config.algos:
        # DAPO drops the KL term by design; GRPO keeps it (beta 0.05).
        rl_config = RLConfig(
            algo=algo, steps=config.rl_steps, seed=config.seed, beta=0.0 if algo == "dapo" else 0.05
        )
        stage(f"rl {algo}", _bind(rl, base, models / algo, config=rl_config))
    stage(
        "distill",
        _bind(distill, teacher, base, models / "distilled", steps=config.distill_steps, seed=config.seed,
              tasks=f"lab:arith?size={config.distill_problems}&seed=7"),
    )  # fmt: skip
    names = ["base", *config.algos, "distilled"]
    tasks = EVAL_TASKS.format(problems=config.problems)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=12, stop=("\n",), seed=config.seed)
    for name in names:
        model, run = str(models / name), runs / name
        stage(f"sample {name}", _bind(sample_run, model, tasks, config.n, run, params=params, batch_size=256,
                                      chat_template=False))  # fmt: skip
        stage(f"grade {name}", _bind(grade_run, run))
        if config.score:
            stage(f"score {name}", _bind(score_run, run, str(base), batch_size=64))
    report = stage("report", lambda: build_report([runs / n for n in names], out / "report"))
    record = {
        "config": asdict(config),
        "models": names,
        "seconds": times,
        "report": str(report),
        **made_by,
        "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (out / "study.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def _made_by() -> dict[str, Any]:
    """The commit (and whether the checkout has uncommitted changes) and the machine."""
    import torch

    revision = provenance()["git_revision"]
    dirty = None
    if revision:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return {
        "git_revision": revision,
        "git_dirty": dirty,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads",
    }
