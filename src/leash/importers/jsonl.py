"""`--format jsonl`: one completion per line.

    {"task_id": "q1", "completion": "...", "correct": true, "answer": "42", "dataset": "gsm8k"}

task_id and completion are required; correct, answer, dataset, prompt, score and
sample_idx are optional. Several lines with one task_id are several samples, numbered
in file order unless sample_idx is given. `correct` must be on every line or on none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.importers.registry import Generations, ImportOptions, register_format
from leash.jsonl import read_jsonl
from leash.tasks.files import task_row


def _correct(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise LeashError(f"{where}: 'correct' must be true/false or 0/1, got {value!r}")


def _answer(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise LeashError(f"{where}: 'answer' must be a string, a number or null, got {value!r}")


def read_jsonl_generations(path: Path, options: ImportOptions) -> Generations:
    out = Generations(source={"format": "jsonl"})
    graded: bool | None = None
    datasets: dict[str, str | None] = {}
    for line_no, row in read_jsonl(path):
        where = f"{path}:{line_no}"
        missing = [f for f in ("task_id", "completion") if f not in row]
        if missing:
            hint = " (this looks like lm-eval samples: pass --format lm-eval)" if "doc_id" in row else ""
            raise LeashError(f"{where}: missing field {missing[0]!r} (fields present: {sorted(row)}){hint}")
        task_id = row["task_id"]
        if isinstance(task_id, bool) or not isinstance(task_id, str | int) or task_id == "":
            raise LeashError(f"{where}: 'task_id' must be a non-empty string or an integer, got {task_id!r}")
        task_id = str(task_id)
        text = row["completion"]
        if not isinstance(text, str):
            raise LeashError(f"{where}: 'completion' must be a string, got {type(text).__name__}")
        has_correct = row.get("correct") is not None
        if graded is None:
            graded = has_correct
        elif graded != has_correct:
            raise LeashError(
                f"{where}: 'correct' is {'present' if has_correct else 'missing'} here but "
                f"{'missing' if has_correct else 'present'} on earlier lines; give it on every line or none"
            )
        sample_idx = row.get("sample_idx")
        if sample_idx is not None and (
            isinstance(sample_idx, bool) or not isinstance(sample_idx, int) or sample_idx < 0
        ):
            raise LeashError(f"{where}: 'sample_idx' must be a non-negative integer, got {sample_idx!r}")
        score = row.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise LeashError(f"{where}: 'score' must be a number, got {score!r}")
        dataset = row.get("dataset")
        if dataset is not None and not isinstance(dataset, str):
            raise LeashError(f"{where}: 'dataset' must be a string, got {dataset!r}")
        if task_id in datasets and datasets[task_id] != dataset:
            raise LeashError(
                f"{where}: task {task_id!r} has dataset {dataset!r} here but {datasets[task_id]!r} before"
            )
        datasets[task_id] = dataset
        prompt = row.get("prompt")
        if task_id not in out.tasks:
            out.tasks[task_id] = task_row(
                task_id, dataset=dataset, prompt=prompt if isinstance(prompt, str) else None
            )
        out.add(
            task_id,
            text,
            where,
            sample_idx=sample_idx,
            correct=_correct(row["correct"], where) if has_correct else None,
            score=None if score is None else float(score),
            answer=_answer(row.get("answer"), where),
        )
    return out


register_format("jsonl", read_jsonl_generations)
