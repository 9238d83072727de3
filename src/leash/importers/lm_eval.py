"""`--format lm-eval`: the `samples_<task>_<timestamp>.jsonl` that `lm_eval --log_samples` writes.

One line per (document, filter): `doc_id`, `resps` ([[completion, ...]]: one
generate_until request whose list holds the task's `repeats`), `filtered_resps`
(the filter's extracted answers), `target`, `arguments` (the prompt), `metrics` (the
names of the per-document metric values stored on the line).

Correctness is per sample when the metric's value is a list with one entry per
repeat, or a scalar with one repeat; a single score for several repeats (e.g. a
majority-vote filter) says nothing about each sample, so those samples are imported
ungraded, with a note. The answer column takes the filter's per-sample output
(never for the `none` filter, whose output is the raw completion).

The task's config (its `filter_list`, `metric_list`, `repeats`) is in the
`results_<timestamp>.json` lm-eval writes beside the samples. When it is there,
each task names the `lm-eval` verifier with the rule built from it (the filter
without its repeat-reducing steps, then the metric: `leash.grading.lm_eval`), so a
plain `leash grade RUN` grades every repeat the way the task does.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.grading.lm_eval import INSTALL, rule_from_config
from leash.importers.registry import Generations, ImportOptions, is_binary, register_format
from leash.jsonl import read_jsonl
from leash.tasks.files import task_row

_FILE = re.compile(r"^samples_(?P<task>.+?)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl(\.gz)?$")
_BOOKKEEPING = {
    "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter",
    "metrics", "doc_hash", "prompt_hash", "target_hash",
}  # fmt: skip


def task_name(path: Path) -> str:
    match = _FILE.match(path.name)
    if match:
        return match.group("task")
    return path.name.split(".")[0].removeprefix("samples_")


def task_config(path: Path, task: str) -> tuple[dict[str, Any] | None, Path | None]:
    """The task's config from the results JSON beside the samples: the one with the same
    timestamp first, else the newest `results_*.json` whose `configs` holds the task."""
    match = _FILE.match(path.name)
    same = [path.with_name(f"results_{match.group('stamp')}.json")] if match else []
    others = sorted(path.parent.glob("results_*.json"), key=lambda p: p.name, reverse=True)
    for candidate in [*same, *others]:
        if not candidate.is_file():
            continue
        try:
            configs = json.loads(candidate.read_text(encoding="utf-8")).get("configs") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(configs.get(task), dict):
            return configs[task], candidate
    return None, None


def _prompt(arguments: Any) -> str | None:
    # lm-eval >= 0.4.3: {"gen_args_0": {"arg_0": prompt, "arg_1": gen_kwargs}}; before: [[prompt, kwargs]]
    if isinstance(arguments, dict) and arguments:
        first = next(iter(arguments.values()))
        if isinstance(first, dict):
            value = first.get("arg_0")
            return value if isinstance(value, str) else None
    if isinstance(arguments, list) and arguments and isinstance(arguments[0], list) and arguments[0]:
        value = arguments[0][0]
        return value if isinstance(value, str) else None
    return None


def _pick_metric(row: dict[str, Any], wanted: str | None, where: str) -> str | None:
    names = row.get("metrics")
    candidates = (
        [m for m in names if isinstance(m, str)]
        if isinstance(names, list)
        else [k for k, v in row.items() if k not in _BOOKKEEPING and isinstance(v, int | float | list)]
    )
    if wanted is not None:
        if wanted not in row:
            raise LeashError(f"{where}: metric {wanted!r} not on the line; metrics present: {candidates}")
        return wanted
    return next((name for name in candidates if is_binary(row.get(name))), None)


def read_lm_eval(path: Path, options: ImportOptions) -> Generations:
    task = task_name(path)
    out = Generations(source={"format": "lm-eval", "task": task})
    chosen_filter = options.filter
    metric: str | None = options.metric
    metric_chosen = False
    filters_seen: set[str] = set()
    ungraded_docs = 0
    seen_docs: dict[str, int] = {}
    config, config_path = task_config(path, task)
    rule: dict[str, Any] | None = None
    for line_no, row in read_jsonl(path):
        where = f"{path}:{line_no}"
        if "doc_id" not in row or "resps" not in row:
            missing = "doc_id" if "doc_id" not in row else "resps"
            raise LeashError(
                f"{where}: missing field {missing!r}; expected lm-eval --log_samples output "
                f"(fields present: {sorted(row)})"
            )
        row_filter = str(row.get("filter", "none"))
        filters_seen.add(row_filter)
        if chosen_filter is None:
            chosen_filter = row_filter
        if row_filter != chosen_filter:
            continue
        task_id = f"{task}/{row['doc_id']}"
        if task_id in seen_docs:
            raise LeashError(f"{where}: doc_id {row['doc_id']} repeated (first on line {seen_docs[task_id]})")
        seen_docs[task_id] = line_no
        resps = row["resps"]
        if not isinstance(resps, list) or len(resps) != 1 or not isinstance(resps[0], list):
            count = len(resps) if isinstance(resps, list) else "?"
            raise LeashError(
                f"{where}: 'resps' holds {count} requests; leash imports generative tasks "
                "(one generate_until request per document, its repeats inside)"
            )
        completions = resps[0]
        if not all(isinstance(t, str) for t in completions):
            raise LeashError(f"{where}: 'resps' must hold strings (generated text)")
        if not metric_chosen:
            metric = _pick_metric(row, metric, where)
            metric_chosen = True
            if config is not None:
                rule = rule_from_config(config, chosen_filter, metric)
        per_sample: list[Any] | None = None
        if metric is not None:
            if metric not in row:
                raise LeashError(f"{where}: metric {metric!r} missing on this line")
            value = row[metric]
            if isinstance(value, list) and len(value) == len(completions):
                per_sample = value
            elif not isinstance(value, list) and len(completions) == 1:
                per_sample = [value]
            else:
                ungraded_docs += 1
        filtered = row.get("filtered_resps")
        answers: list[Any] = [None] * len(completions)
        if chosen_filter != "none" and isinstance(filtered, list) and len(filtered) == len(completions):
            answers = [a if isinstance(a, str) else None for a in filtered]
        target = row.get("target")
        reference: dict[str, Any] | None = None if target is None else {"answer": target}
        if rule is not None and reference is not None:
            reference["lm_eval"] = rule
            if rule["needs_doc"]:
                reference["doc"] = row.get("doc")
        out.tasks[task_id] = task_row(
            task_id,
            dataset=task,
            prompt=_prompt(row.get("arguments")),
            reference=reference,
            verifier="lm-eval" if rule is not None and reference is not None else None,
            meta={"doc": row.get("doc"), "doc_id": row["doc_id"]},
        )
        for i, text in enumerate(completions):
            correct = None
            if per_sample is not None:
                v = per_sample[i]
                if not isinstance(v, bool | int | float) or v not in (0, 1):
                    raise LeashError(
                        f"{where}: metric {metric!r} = {v!r} is not 0/1; choose one with --metric"
                    )
                correct = bool(v)
            out.add(task_id, text, where, correct=correct, answer=answers[i] if correct is not None else None)
    if not out.samples:
        raise LeashError(
            f"{path}: no rows for filter {chosen_filter!r}; filters in the file: {sorted(filters_seen)}"
        )
    out.source["filter"] = chosen_filter
    if len(filters_seen) > 1:
        out.notes.append(f"read filter {chosen_filter!r} of {sorted(filters_seen)} (choose with --filter)")
    out.settle_grades(metric, ungraded_docs, "documents")
    out.notes.append(_rule_note(rule, config_path, path))
    if rule is not None:
        out.source["lm_eval_rule"] = {"results": str(config_path), **rule}
    return out


def _rule_note(rule: dict[str, Any] | None, config_path: Path | None, path: Path) -> str:
    if rule is None:
        return (
            f"no results_*.json with this task's config beside {path.name}: the task's filter and "
            "metric are unknown; put it beside the samples and import again, or grade with --verifier"
        )
    if rule["problem"]:
        return f"{config_path.name if config_path else 'results'}: {rule['problem']}"
    steps = " -> ".join(f for f, _ in rule["steps"]) or "the raw completion"
    dropped = f" (without {', '.join(rule['dropped'])})" if rule["dropped"] else ""
    missing = "" if importlib.util.find_spec("lm_eval") else f"; {INSTALL}"
    return (
        f"`leash grade` applies the task's rule from {config_path.name if config_path else 'results'} "
        f"to each repeat: filter {rule['filter']!r} {steps}{dropped}, then {rule['metric']}{missing}"
    )


register_format("lm-eval", read_lm_eval)
