"""`--format inspect`: an Inspect AI log (`.eval` or `.json`), read with inspect-ai's own reader.

`inspect_ai.log.read_eval_log` gives the log's samples, one per (dataset sample, epoch):
each epoch is a leash sample (`sample_idx = epoch - 1`) of the task `<task>/<sample id>`,
its text the model's completion (`output.completion`), its verdict that epoch's score.
The score is the chosen scorer's (`--metric NAME`; else the only one, else the first,
with a note), converted by Inspect's own `value_to_float` (C = 1, I = 0, P = 0.5, ...):
1 is correct, 0 incorrect; any other value (partial credit, a dict of values) leaves the
samples ungraded, with a note, to grade with `leash grade`. The answer column is the
score's `answer` (what the scorer extracted). The model and task names come from the
log (`eval.model`, `eval.task`); the target becomes the reference answer.

A score computed once for all epochs (a reducer) is not in the per-epoch samples, so
every sample keeps its own verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.importers.registry import Generations, ImportOptions, register_format
from leash.jsonl import require_file
from leash.tasks.files import task_row

INSTALL = "reading Inspect logs needs inspect-ai: pip install 'leash[inspect]'"


def _prompt(value: Any) -> str | None:
    """The sample's input: a string, or the chat messages' text one per line."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [getattr(m, "text", None) for m in value]
        return "\n".join(t for t in texts if isinstance(t, str)) or None
    return None


def _scorer(scores: dict[str, Any], wanted: str | None, where: str) -> str | None:
    if wanted is not None:
        if wanted not in scores:
            raise LeashError(f"{where}: scorer {wanted!r} not found; scorers present: {sorted(scores)}")
        return wanted
    return next(iter(scores), None)


def read_inspect(path: Path, options: ImportOptions) -> Generations:
    require_file(path)
    try:
        from inspect_ai.log import read_eval_log
        from inspect_ai.scorer import value_to_float
    except ImportError as err:
        raise LeashError(INSTALL) from err
    try:
        log = read_eval_log(str(path))
    except Exception as err:  # inspect-ai raises several types for a file that is not a log
        raise LeashError(f"{path}: not a readable Inspect log ({type(err).__name__}: {err})") from err
    samples = log.samples or []
    if not samples:
        raise LeashError(f"{path}: the log holds no samples (status {log.status}); nothing to import")
    task = str(log.eval.task)
    to_float = value_to_float()
    out = Generations(
        source={"format": "inspect", "task": task, "status": log.status, "epochs": log.eval.config.epochs},
        model=str(log.eval.model) if log.eval.model else None,
    )
    if log.status != "success":
        out.notes.append(f"the log's status is {log.status!r}: some samples may be missing")
    scorer: str | None = options.metric
    names: set[str] = set()
    ungraded = 0
    for sample in samples:
        where = f"{path}: sample {sample.id!r} epoch {sample.epoch}"
        task_id = f"{task}/{sample.id}"
        if task_id not in out.tasks:
            target = sample.target
            out.tasks[task_id] = task_row(
                task_id,
                dataset=task,
                prompt=_prompt(sample.input),
                reference={"answer": target} if target not in (None, "", []) else None,
            )
        scores = sample.scores or {}
        names.update(scores)
        chosen = _scorer(scores, scorer, where)
        scorer = scorer or chosen
        score = scores.get(chosen) if chosen is not None else None
        correct: bool | None = None
        answer = None
        if score is not None and not isinstance(score.value, dict | list):
            value = to_float(score.value)
            if value in (0.0, 1.0):
                correct, answer = value == 1.0, score.answer
        ungraded += correct is None
        text = sample.output.completion if sample.output is not None else ""
        out.add(task_id, text, where, sample_idx=int(sample.epoch) - 1, correct=correct, answer=answer)
    if len(names) > 1 and options.metric is None:
        out.notes.append(
            f"the log has scorers {sorted(names)}: verdicts from {scorer!r} (choose with --metric)"
        )
    if ungraded and scorer is not None:
        out.notes.append(
            f"{ungraded} samples have no 0/1 score from {scorer!r} (partial credit, an error, or none): "
            "the samples are imported ungraded; grade them with `leash grade RUN --verifier NAME`"
        )
    out.settle_grades(scorer, 0, "samples")
    return out


register_format("inspect", read_inspect)
