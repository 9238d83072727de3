"""The lab: its task family, each command for a few steps, checkpoints that load like hub models."""

import json
import math
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from leash.grading import GradeItem, get_verifier
from leash.lab.commands import _load, distill, pretrain, rl, sft_self
from leash.lab.rl import ALGOS, RLConfig, advantages, kl_k3, rl_train
from leash.lab.series import run_series
from leash.lab.tasks import arith_problems, solutions
from leash.lab.train import pretraining_corpus
from leash.tasks import load_tasks


def test_arith_tasks_have_several_correct_answers_that_the_verifier_accepts():
    tasks = load_tasks("lab:arith?size=40&seed=3")
    assert tasks == load_tasks("lab:arith?size=40&seed=3") and len(tasks) == 40
    verifier = get_verifier("arith")
    multi = 0
    for task in tasks:
        found = solutions(task.reference["numbers"], task.reference["target"])
        assert found, task
        verdicts = verifier.grade([GradeItem(task.task_id, e, task.reference) for e in found])
        assert all(v.correct for v in verdicts)
        multi += len(found) > 1
    assert multi > 20


def test_pretraining_corpus_mixes_modes_and_failures():
    pairs = pretraining_corpus(400, seed=0)
    problems = {
        f"{a} {b} {c} > {p['target']}": p for p in arith_problems(400, 0) for a, b, c in [p["numbers"]]
    }
    verifier = get_verifier("arith")
    correct = sum(
        v.correct for v in verifier.grade([GradeItem("x", c, problems[q]) for q, c in pairs if q in problems])
    )
    assert 0.2 < correct / len(pairs) < 0.5


def test_advantages_by_hand():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    rloo = advantages("rloo", r)
    assert torch.allclose(rloo[0], torch.tensor([1 - 1 / 3, -2 / 3, -2 / 3, 1 - 1 / 3]))
    assert torch.all(rloo[1] == 0)
    grpo = advantages("grpo", r)
    assert torch.allclose(grpo[0], (r[0] - 0.5) / (r[0].std() + 1e-4)) and torch.all(grpo[1] == 0)
    pp = advantages("reinforce_pp", r)
    assert torch.allclose(pp, (r - r.mean()) / (r.std() + 1e-4))
    assert set(ALGOS) >= {"grpo", "rloo", "reinforce_pp", "dapo", "prorl", "ppo"}


def test_k3_by_hand():
    # d = log pi_ref - log pi: exp(d) - d - 1; pi_ref = 2 pi gives 2 - ln 2 - 1, pi = pi_ref gives 0.
    kl = kl_k3(torch.tensor([math.log(0.25), math.log(0.5)]), torch.tensor([math.log(0.5), math.log(0.5)]))
    assert kl.tolist() == pytest.approx([1 - math.log(2), 0.0])


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "base"
    record = pretrain(out, problems=600, steps=150, seed=0)
    assert record["final_loss"] < 2.5
    return out


def test_checkpoints_load_like_hub_models(base):
    model = AutoModelForCausalLM.from_pretrained(base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    assert tokenizer.decode(tokenizer("3 4 5 > 12").input_ids) == "3 4 5 > 12"
    assert json.loads((base / "lab.json").read_text())["command"] == "pretrain"
    assert sum(p.numel() for p in model.parameters()) > 100_000


# Their advantages are checked in test_rl_variants.py.
VARIANTS = ["passk", "pkpo", "w_reinforce", "unlikely", "answer_bonus", "answer_ucb"]


@pytest.mark.parametrize("algo", sorted(set(ALGOS) - set(VARIANTS)))
def test_each_rl_algorithm_runs_a_few_steps(base, tmp_path, algo):
    config = RLConfig(
        algo=algo, steps=3, prompts_per_step=4, group=4, lr=1e-3, beta=0.01 if algo == "grpo" else 0.0
    )
    record = rl(base, tmp_path / algo, tasks="lab:arith?size=50&seed=9", config=config)
    assert record["algo"] == algo and (tmp_path / algo / "model.safetensors").exists()
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / algo).state_dict()
    if algo == "ppo":  # the step-0 batch holds a correct sample: the GAE advantages are not all 0
        start = AutoModelForCausalLM.from_pretrained(base).state_dict()
        assert any(not torch.equal(start[k], tuned[k]) for k in start)


def test_the_exploration_variants_run_in_the_loop(base):
    """One step each (their advantages are checked against the formulas in test_rl_variants.py)."""
    model, tokenizer = _load(base)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    tasks = load_tasks("lab:arith?size=50&seed=9")
    assert set(VARIANTS) <= set(ALGOS)
    for algo in VARIANTS:
        model.load_state_dict(start)
        config = RLConfig(algo=algo, steps=1, prompts_per_step=4, group=4, lr=1e-3, beta=0.0)
        history = rl_train(model, model, tokenizer, tasks, config)
        assert len(history) == 1 and math.isfinite(history[0]["loss"]), algo


def test_sft_self_distill_and_cli(base, tmp_path):
    record = sft_self(base, tmp_path / "self", tasks="lab:arith?size=30&seed=4", per_task=16, steps=5)
    assert record["pairs"] > 0
    record = distill(base, base, tmp_path / "student", tasks="lab:arith?size=30&seed=4", per_task=16, steps=5)
    assert record["pairs"] > 0
    proc = subprocess.run(
        [sys.executable, "-m", "leash", "lab", "rl", str(base), "--out", str(tmp_path / "cli"), "--algo", "trpo"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and "unknown --algo 'trpo'" in proc.stderr


@pytest.mark.parametrize("option", [["--group", "1"], ["--prompts", "0"], ["--steps", "0"]])
def test_rl_refuses_a_group_prompts_or_steps_it_cannot_learn_from(base, tmp_path, option):
    from typer.testing import CliRunner

    from leash.cli import app

    out = tmp_path / "tuned"
    proc = CliRunner().invoke(app, ["lab", "rl", str(base), "--out", str(out), *option])
    assert proc.exit_code == 2 and "need a group of >= 2 samples" in proc.output, proc.output
    assert "Traceback" not in proc.output and not out.exists()


@pytest.mark.parametrize(
    ("flags", "lr", "beta"),
    [
        ([], 3e-4, 0.05),
        (["--preset", "papers"], 1e-4, 0.2),
        (["--preset", "papers", "--beta", "0.3"], 1e-4, 0.3),
    ],
)
def test_rl_preset_sets_lr_and_beta_and_a_flag_overrides_it(base, tmp_path, flags, lr, beta):
    from typer.testing import CliRunner

    from leash.cli import app

    out = tmp_path / "tuned"
    one_tiny_step = ["--steps", "1", "--prompts", "2", "--group", "2"]
    args = ["lab", "rl", str(base), "--out", str(out), *one_tiny_step, *flags]
    proc = CliRunner().invoke(app, args)
    assert proc.exit_code == 0, proc.output
    record = json.loads((out / "lab.json").read_text())
    assert (record["lr"], record["beta"]) == (lr, beta)


def test_an_unknown_preset_is_one_line(base, tmp_path):
    from typer.testing import CliRunner

    from leash.cli import app

    out = tmp_path / "tuned"
    proc = CliRunner().invoke(app, ["lab", "rl", str(base), "--out", str(out), "--preset", "gentle"])
    assert proc.exit_code == 2 and "--preset 'gentle': choose one of: fast, papers" in proc.output
    assert "Traceback" not in proc.output and not out.exists()


def test_pretrain_builds_the_size_asked_for(tmp_path):
    record = pretrain(tmp_path / "wide", problems=50, steps=2, hidden=64, layers=2, correct_share=1.0)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "wide")
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (64, 2)
    assert record["parameters"] == sum(p.numel() for p in model.parameters())
    assert json.loads((tmp_path / "wide" / "lab.json").read_text())["hidden"] == 64


@pytest.mark.parametrize(
    "option", [["--hidden", "130"], ["--layers", "0"], ["--correct-share", "0"], ["--correct-share", "1.5"]]
)
def test_pretrain_refuses_a_size_or_share_it_cannot_build(tmp_path, option):
    from typer.testing import CliRunner

    from leash.cli import app

    out = tmp_path / "model"
    proc = CliRunner().invoke(app, ["lab", "pretrain", "--out", str(out), "--steps", "1", *option])
    assert proc.exit_code == 2 and "multiple of 4" in proc.output, proc.output
    assert "Traceback" not in proc.output and not out.exists()


def test_distill_refuses_zero_samples_per_task(base, tmp_path):
    from typer.testing import CliRunner

    from leash.cli import app

    out = tmp_path / "student"
    args = ["lab", "distill", "--teacher", str(base), "--student", str(base), "--out", str(out)]
    proc = CliRunner().invoke(app, [*args, "--per-task", "0"])
    assert proc.exit_code == 2 and "--per-task 0" in proc.output, proc.output
    assert "Traceback" not in proc.output and not out.exists()


@pytest.mark.parametrize(("algo", "reset_every", "zero_at"), [("prorl", 2, [0, 2]), ("grpo", None, [0])])
def test_the_reference_is_reset_every_r_steps(base, algo, reset_every, zero_at):
    """KL to the reference, measured before each step's update, is 0 exactly at the start and right
    after a reset. After every step the policy is moved by hand (the checkpoint hook adds noise), so
    without a reset the KL cannot be 0."""
    model, tokenizer = _load(base)
    reference = _load(base)[0].eval()
    generator = torch.Generator().manual_seed(0)

    def nudge(step):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=generator))

    config = RLConfig(algo=algo, steps=4, prompts_per_step=2, group=2, beta=0.1, save_every=1,
                      reset_every=reset_every, seed=1)  # fmt: skip
    history = rl_train(model, reference, tokenizer, load_tasks("lab:arith?size=20&seed=9"), config, nudge)
    assert config.resets() == (2 if algo == "prorl" else 0)
    for h in history:
        assert (h["kl"] == 0.0) == (h["step"] in zero_at), history


def test_rl_saves_checkpoints_and_lab_series_compares_them(base, tmp_path):
    config = RLConfig(algo="prorl", steps=2, prompts_per_step=2, group=2, save_every=1, reset_every=1)
    record = rl(base, tmp_path / "rl", tasks="lab:arith?size=20&seed=9", config=config)
    steps = [tmp_path / "rl" / f"step-00000{i}" for i in range(3)]
    assert record["checkpoints"] == [str(p) for p in steps]
    assert json.loads((steps[1] / "lab.json").read_text())["step"] == 1
    start, end = (AutoModelForCausalLM.from_pretrained(p).state_dict() for p in (steps[0], steps[2]))
    base_weights = AutoModelForCausalLM.from_pretrained(base).state_dict()
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "rl").state_dict()
    assert all(torch.equal(start[k], base_weights[k]) and torch.equal(end[k], final[k]) for k in start)

    result = run_series(tmp_path / "rl", tmp_path / "series", problems=2, n=4, log=lambda _: None)
    assert [r["step"] for r in result["steps"]] == [0, 1, 2]
    for row, step in zip(result["steps"], steps, strict=True):
        grades = pq.read_table(
            [p for p in (tmp_path / "series" / "runs" / step.name / "grades" / "arith").glob("*.parquet")]
        ).to_pylist()
        assert len(grades) == 8 and row["pass_at_1"] == pytest.approx(sum(g["correct"] for g in grades) / 8)
    assert (tmp_path / "series" / "series.png").exists() and (tmp_path / "series" / "series.md").exists()


def test_quick_sweep_trains_every_algorithm_and_seed_and_tabulates_them(base, tmp_path):
    from typer.testing import CliRunner

    from leash.cli import app

    out = tmp_path / "sweep"
    args = ["lab", "sweep", "--quick", "--base", str(base), "--out", str(out), "--problems", "2", "--n", "4",
            "--steps", "1"]  # fmt: skip
    proc = CliRunner().invoke(app, args)
    assert proc.exit_code == 0, proc.output
    result = json.loads((out / "sweep.json").read_text())
    assert result["algos"] == ["grpo", "ppo"] and result["seeds"] == [0, 1] and result["k_max"] == 4
    for algo in ("grpo", "ppo"):
        rows = result["runs"][algo]
        assert [r["seed"] for r in rows] == [0, 1]
        for row in rows:  # pass@1 from the run's own grades: c / n averaged over the problems
            grades = pq.read_table(list((out / "runs" / f"{algo}-s{row['seed']}" / "grades" / "arith")
                                        .glob("*.parquet"))).to_pylist()  # fmt: skip
            assert len(grades) == 8 and row["pass_at_1"] == pytest.approx(
                sum(g["correct"] for g in grades) / 8
            )
        values = [r["pass_at_1"] for r in rows]
        spread = result["summary"][algo]["pass_at_1"]
        assert spread["mean"] == pytest.approx(sum(values) / 2)
        assert spread["sd"] == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))
    assert result["summary"]["grpo"]["token_entropy"]["mean"] is None  # --quick does not score
    table = (out / "sweep.md").read_text()
    assert "| grpo | 2 |" in table and "| ppo | 2 |" in table and "not scored" in table
    assert (out / "sweep.png").exists()
    bad = CliRunner().invoke(
        app, ["lab", "sweep", "--quick", "--algos", "grpo,nope", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code != 0 and "unknown nope" in bad.output and not (tmp_path / "x").exists()
