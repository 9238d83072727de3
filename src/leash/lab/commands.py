"""The lab's public functions, one per `leash lab` command; each writes a save_pretrained folder.

    pretrain   a tiny base model on a mixture of correct solutions of every mode
               (frequent and rare) and failed attempts
    rl         RLVR from a checkpoint: grpo | rloo | reinforce_pp | dapo | prorl | ppo, or an
               exploration variant (passk | pkpo | w_reinforce | unlikely | answer_bonus |
               answer_ucb); with save_every N also OUT/step-000000 (the start model),
               OUT/step-0000N0, ...
    sft_self   SFT on the model's own correct samples (Yue et al.'s comparison)
    distill    a student trained on a stronger teacher's correct samples

Every output folder holds `lab.json`: the command, its arguments and its seed, so
each checkpoint can be made again.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.lab.rl import ALGOS, RLConfig, rl_train
from leash.lab.tiny import char_tokenizer, tiny_llama
from leash.lab.train import pretraining_corpus, train_lm
from leash.tasks import load_tasks

__all__ = ["distill", "pretrain", "rl", "sft_self", "step_dir"]

# Mode weights of the teacher's data: every mode equally, so it knows the rare ones.
TEACHER_WEIGHTS = [1.0, 1.0, 1.0, 1.0, 1.0]


def _save(model: Any, tokenizer: Any, out: str | Path, record: dict[str, Any]) -> Path:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "lab.json").write_text(json.dumps(record, indent=1) + "\n")
    return path


def _load(path: str | Path) -> tuple[Any, Any]:
    from leash.sampling.hf import load_model_and_tokenizer

    return load_model_and_tokenizer(str(path), "cpu", "float32")


def pretrain(
    out: str | Path,
    *,
    problems: int = 6000,
    steps: int = 2000,
    correct_share: float = 0.35,
    teacher: bool = False,
    hidden: int = 128,
    layers: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a tiny Llama (`hidden` wide, `layers` deep) from scratch; `teacher=True` gives every
    mode equal weight."""
    if hidden < 4 or hidden % 4 or layers < 1 or not 0.0 < correct_share <= 1.0:
        raise LeashError(
            f"--hidden {hidden} --layers {layers} --correct-share {correct_share}: need a width that is a "
            "multiple of 4 (the model has 4 heads), >= 1 layer and a share in (0, 1]"
        )
    start = time.perf_counter()
    tokenizer = char_tokenizer()
    model = tiny_llama(tokenizer, hidden=hidden, layers=layers, seed=seed)
    weights = TEACHER_WEIGHTS if teacher else None
    pairs = pretraining_corpus(problems, seed=seed + 1, correct_share=correct_share, mode_weights=weights)
    losses = train_lm(model, tokenizer, pairs, steps=steps, seed=seed)
    record = {
        "command": "pretrain",
        "problems": problems,
        "steps": steps,
        "correct_share": correct_share,
        "teacher": teacher,
        "hidden": hidden,
        "layers": layers,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seed": seed,
        "final_loss": losses[-1],
        "seconds": time.perf_counter() - start,
    }
    _save(model, tokenizer, out, record)
    return record


def step_dir(out: str | Path, step: int) -> Path:
    """Where `rl --save-every` puts the checkpoint after `step` steps: OUT/step-000050."""
    return Path(out) / f"step-{step:06d}"


def rl(
    base: str | Path, out: str | Path, *, tasks: str = "lab:arith?size=2000&seed=7", config: RLConfig
) -> dict[str, Any]:
    """RL-tune a checkpoint with the task's verifier as reward. With `config.save_every` N, every
    N steps a checkpoint goes to OUT/step-NNNNNN (step 0, the start model, included)."""
    if config.algo not in ALGOS:
        raise LeashError(f"unknown --algo {config.algo!r}; choose one of: {', '.join(sorted(ALGOS))}")
    if config.group < 2 or config.prompts_per_step < 1 or config.steps < 1:
        # A group of one has no baseline to compare with: every group advantage would be 0.
        raise LeashError(
            f"--group {config.group} --prompts {config.prompts_per_step} --steps {config.steps}: "
            "need a group of >= 2 samples, >= 1 prompt and >= 1 step"
        )
    for name, value in (("--save-every", config.save_every), ("--reset-every", config.reset_every)):
        if value is not None and value < 0:
            raise LeashError(f"{name} {value}: must be >= 0 (0: never)")
    start = time.perf_counter()
    model, tokenizer = _load(base)
    reference = copy.deepcopy(model).eval()
    head = {"command": "rl", "base": str(base), "tasks": tasks, **config.__dict__,
            "reset_every": config.resets()}  # fmt: skip
    saved: list[str] = []

    def checkpoint(step: int) -> None:
        saved.append(str(_save(model, tokenizer, step_dir(out, step), {**head, "step": step})))

    if config.save_every:
        checkpoint(0)
    history = rl_train(model, reference, tokenizer, load_tasks(tasks), config, checkpoint)
    record = {
        **head,
        "reward_first_10": _mean(history[:10]),
        "reward_last_10": _mean(history[-10:]),
        "seconds": time.perf_counter() - start,
        **({"checkpoints": saved} if saved else {}),
    }
    _save(model, tokenizer, out, record)
    return record


def _mean(history: list[dict[str, float]]) -> float:
    return sum(h["reward"] for h in history) / max(1, len(history))


def _correct_samples(
    model: Any, tokenizer: Any, tasks: str, per_task: int, seed: int
) -> list[tuple[str, str]]:
    """The model's correct completions (temperature 1) on the tasks, as training pairs."""
    import torch

    from leash.grading import GradeItem, get_verifier

    verifier = get_verifier("arith")
    pairs = []
    torch.manual_seed(seed)
    for task in load_tasks(tasks):
        ids = tokenizer(task.question + "\n", add_special_tokens=False, return_tensors="pt").input_ids
        ids = ids.expand(per_task, -1)
        with torch.no_grad():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=True,
                temperature=1.0,
                top_k=0,
                max_new_tokens=12,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        texts = [
            tokenizer.decode(row, skip_special_tokens=True).split("\n")[0] for row in out[:, ids.shape[1] :]
        ]
        verdicts = verifier.grade([GradeItem(task.task_id, t, task.reference) for t in texts])
        pairs += [(task.question, t) for t, v in zip(texts, verdicts, strict=True) if v.correct]
    return pairs


def _train_on_correct(
    command: str,
    source: str | Path,
    student: str | Path,
    out: str | Path,
    tasks: str,
    per_task: int,
    steps: int,
    seed: int,
) -> dict[str, Any]:
    """Fine-tune `student` on the correct samples `source` draws (itself for sft-self)."""
    if per_task < 1 or steps < 1:
        raise LeashError(f"--per-task {per_task} --steps {steps}: each must be >= 1")
    model, tokenizer = _load(source)
    pairs = _correct_samples(model, tokenizer, tasks, per_task, seed)
    if not pairs:
        raise LeashError(f"{source} found no correct sample on {tasks}: nothing to train on")
    if Path(student) != Path(source):
        model, tokenizer = _load(student)
    losses = train_lm(model, tokenizer, pairs, steps=steps, lr=1e-3, seed=seed)
    record = {
        "command": command,
        "source": str(source),
        "student": str(student),
        "tasks": tasks,
        "per_task": per_task,
        "steps": steps,
        "seed": seed,
        "pairs": len(pairs),
        "final_loss": losses[-1],
    }
    _save(model, tokenizer, out, record)
    return record


def sft_self(
    base: str | Path,
    out: str | Path,
    *,
    tasks: str = "lab:arith?size=1000&seed=7",
    per_task: int = 8,
    steps: int = 300,
    seed: int = 0,
) -> dict[str, Any]:
    """Fine-tune a model on its own correct samples."""
    return _train_on_correct("sft-self", base, base, out, tasks, per_task, steps, seed)


def distill(
    teacher: str | Path,
    student: str | Path,
    out: str | Path,
    *,
    tasks: str = "lab:arith?size=1000&seed=7",
    per_task: int = 8,
    steps: int = 300,
    seed: int = 0,
) -> dict[str, Any]:
    """Fine-tune `student` on the correct samples of a stronger `teacher`."""
    return _train_on_correct("distill", teacher, student, out, tasks, per_task, steps, seed)
