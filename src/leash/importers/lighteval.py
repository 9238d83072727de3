"""`--format lighteval`: the details parquet of `lighteval ... --save-details`.

`details_<task>_<timestamp>.parquet`, one row per document. Two layouts exist:
- lighteval >= 0.10: struct columns `doc` (query, choices, gold_index, ...),
  `model_response` (text: the completions) and `metric` (name -> value);
- earlier releases: `example` / `full_prompt`, `predictions`, `gold`, `metrics`.

Each completion of a row is a sample. Correctness is per sample when the chosen
metric is a 0/1 scalar on a row with one completion, or a list with one value per
completion; otherwise the samples are imported ungraded, with a note.

lighteval has lm-eval's gap (#3080) and no way around it in the file: with n > 1 its
sampling metrics (`pass@k`, `avg@n`, `maj@n`) score each completion with a
per-sample function and keep only the aggregate, one value per metric per document
(`DetailsLogger.Detail.metric`); the details do not say which per-sample function
it was. Such samples are imported ungraded, and the note names the verifiers to
grade them with (`math` is Math-Verify, what lighteval's math tasks score with).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from leash.errors import LeashError
from leash.importers.registry import Generations, ImportOptions, is_binary, register_format, split_verdicts
from leash.jsonl import require_file
from leash.tasks.files import task_row

_FILE = re.compile(r"^details_(?P<task>.+?)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\w\-.:]+)\.parquet$")


def task_name(path: Path) -> str:
    match = _FILE.match(path.name)
    name = match.group("task") if match else path.stem.removeprefix("details_")
    # "suite|task|fewshot" (lighteval < 0.13) and "task|fewshot" (0.13: `f"{name}|{num_fewshots}"`)
    # -> "task"; a name with no fewshot count is kept as it is.
    parts = name.split("|")
    if len(parts) == 3:
        return parts[1]
    if len(parts) == 2 and parts[1].isdigit():
        return parts[0]
    return name


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    if isinstance(value, list):  # a Parquet map arrives as [(key, value), ...]
        return (
            {k: v for k, v in value if isinstance(k, str)}
            if all(isinstance(item, tuple) and len(item) == 2 for item in value)
            else {}
        )
    return {}


def _row_fields(row: dict[str, Any]) -> tuple[list[Any], dict[str, Any], str | None, Any, Any]:
    """(completions, metrics, prompt, gold, doc id) from either layout."""
    if "model_response" in row:
        doc = _as_dict(row.get("doc"))
        response = _as_dict(row.get("model_response"))
        texts = response.get("text") or []
        gold: Any = None
        choices, index = doc.get("choices"), doc.get("gold_index")
        if isinstance(choices, list) and isinstance(index, int) and 0 <= index < len(choices):
            gold = choices[index]
        elif isinstance(choices, list) and isinstance(index, list) and index:
            gold = [choices[i] for i in index if isinstance(i, int) and 0 <= i < len(choices)]
        return texts, _as_dict(row.get("metric")), doc.get("query"), gold, doc.get("id")
    texts = row.get("predictions") or []
    prompt = row.get("full_prompt") or row.get("example")
    gold = row.get("gold")
    if isinstance(gold, list) and len(gold) == 1:
        gold = gold[0]
    return texts, _as_dict(row.get("metrics")), prompt, gold, None


def read_lighteval(path: Path, options: ImportOptions) -> Generations:
    require_file(path)
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as err:  # pyarrow raises several types for a bad file
        raise LeashError(f"{path}: not a readable Parquet file ({err})") from err
    if not rows:
        raise LeashError(f"{path}: no rows; nothing to import")
    columns = set(rows[0])
    if not ({"model_response", "doc"} <= columns or "predictions" in columns):
        raise LeashError(
            f"{path}: not a lighteval details file (columns: {sorted(columns)}); "
            "expected doc/model_response/metric or predictions/metrics"
        )
    task = task_name(path)
    out = Generations(source={"format": "lighteval", "task": task})
    metric = options.metric
    ungraded_rows = 0
    most = 0  # the most completions on one row
    for i, row in enumerate(rows):
        where = f"{path}: row {i}"
        texts, metrics, prompt, gold, doc_id = _row_fields(row)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise LeashError(f"{where}: the completions are not a list of strings")
        if metric is None:
            metric = next((k for k, v in metrics.items() if is_binary(v)), None)
        value = metrics.get(metric) if metric is not None else None
        if metric is not None and options.metric is not None and metric not in metrics:
            raise LeashError(f"{where}: metric {metric!r} not found; metrics present: {sorted(metrics)}")
        most = max(most, len(texts))
        verdicts = None if metric is None else split_verdicts(value, len(texts), metric, where)
        ungraded_rows += metric is not None and verdicts is None
        task_id = f"{task}/{doc_id if doc_id not in (None, '') else i}"
        if task_id in out.tasks:
            raise LeashError(f"{where}: document id {task_id!r} appears twice")
        out.tasks[task_id] = task_row(
            task_id,
            dataset=task,
            prompt=prompt if isinstance(prompt, str) else None,
            reference=None if gold is None else {"answer": gold},
        )
        for j, text in enumerate(texts):
            out.add(task_id, text, where, correct=None if verdicts is None else verdicts[j])
    out.settle_grades(metric, ungraded_rows, "rows")
    if most > 1 and not out.grades:
        out.notes.append(
            f"lighteval logs one value per metric for a document's {most} completions (pass@k, avg@n, "
            "maj@n keep only the aggregate of a per-sample score the file does not name): grade them "
            "with `leash grade RUN --verifier math` (Math-Verify, as lighteval's math tasks) or exact"
        )
    return out


register_format("lighteval", read_lighteval)
