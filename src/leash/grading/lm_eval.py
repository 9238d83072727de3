"""The `lm-eval` verifier: an lm-eval task's own filter and metric, applied to each repeat alone.

lm-eval logs one metric value per document: with `repeats: R` its filter pipeline
ends in a step that reduces the R completions to one (`take_first`,
`majority_vote`), and the metric scores that one (lm-eval #3080). To grade each
completion as the task would, the rule (built from the task's config in the
`results_*.json` lm-eval writes beside the samples, see `rule_from_config`) keeps
the pipeline without its repeat-reducing steps and runs, per completion c:

    answer = pipeline([[c]], [doc])[0][0]          # lm-eval's own filter classes
    score  = metric(references=[target], predictions=[answer], **kwargs)   # its own metric
    correct iff score == 1.0

exactly as `ConfigurableTask.process_results` calls them for `generate_until` (the
target cast to the answer's type; a list of targets passes when any matches).

Filters and metrics run on model text, so they run in worker processes killed at a
hard wall-clock limit (a regex can backtrack for ever). Only lm-eval's built-in
text filters and `exact_match` are run: a task's own Python (`process_results`, a
`!function` metric, the `custom` filter) and metrics that execute the model's code
(`code_eval`, `pass@k` through `evaluate`) are refused in one line, never run here.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from leash.errors import LeashError
from leash.grading.pool import TIMEOUT, JobError, WorkerPool
from leash.grading.registry import register_verifier
from leash.grading.verdict import GradeItem, Verdict, failed

__all__ = ["INSTALL", "LmEvalVerifier", "rule_from_config", "score_repeat"]

INSTALL = "the lm-eval verifier runs lm-eval's own filters and metrics: pip install 'leash[lm-eval]'"

# Steps that turn a document's R completions into fewer: dropped to grade each one alone.
REDUCERS = {"take_first", "take_first_k", "majority_vote"}
# lm-eval's built-in filters that only transform text; `docs` marks those that read the document.
TEXT_FILTERS = {"regex", "remove_whitespace", "lowercase", "uppercase", "map", "multi_choice_regex"}
NEEDS_DOC = {"multi_choice_regex"}
METRICS = {"exact_match"}  # per-completion 0/1 metrics of lm-eval's registry run here
CODE_METRICS = {"code_eval", "pass_at_k", "pass@k", "pass@1"}
_METRIC_KEYS = {"metric", "aggregation", "higher_is_better", "hf_evaluate"}


def _is_python(value: Any) -> bool:
    # lm-eval serialises a callable in the config as its source text (`getsource`) or repr.
    return isinstance(value, str) and ("\n" in value or value.startswith(("def ", "<function", "lambda")))


def _metric_problem(name: Any, entry: dict[str, Any], kwargs: dict[str, Any]) -> str | None:
    """Why leash will not run this metric entry, or None."""
    if not isinstance(name, str) or _is_python(name):
        return "the task scores with its own Python metric function; pass --verifier"
    if name in CODE_METRICS or "code" in name:
        return (
            f"lm-eval metric {name!r} executes the model's code; leash runs code only in its sandbox: "
            "grade with `--verifier code` (the reference then needs the unit tests)"
        )
    if entry.get("hf_evaluate") or name not in METRICS:
        supported = ", ".join(sorted(METRICS))
        return f"lm-eval metric {name!r} is not graded per repeat (supported: {supported}); pass --verifier"
    if any(_is_python(v) for v in kwargs.values()):
        return f"metric {name!r} takes a Python function argument; pass --verifier"
    return None


def _metric(config: dict[str, Any], wanted: str | None) -> tuple[str, dict[str, Any], str | None]:
    """(name, kwargs, problem) of the metric to grade with: `wanted` when the task lists it."""
    listed = config.get("metric_list") or [{"metric": "exact_match"}]  # lm-eval's generate_until default
    entry = next((m for m in listed if m.get("metric") == wanted), listed[0])
    name = entry.get("metric")
    kwargs = {k: v for k, v in entry.items() if k not in _METRIC_KEYS}
    problem = _metric_problem(name, entry, kwargs)
    return (name if isinstance(name, str) and not _is_python(name) else "<function>"), kwargs, problem


def rule_from_config(config: dict[str, Any], filter_name: str, metric: str | None = None) -> dict[str, Any]:
    """The per-repeat grading rule of one lm-eval task config (a `configs` entry of results_*.json).

    Returns {"task", "filter", "steps": [[function, kwargs], ...] (reducers removed),
    "dropped": [reducer names], "metric", "metric_kwargs", "needs_doc", "problem"}:
    `problem` is None when leash can run the rule, else the one line saying why not.
    """
    name, kwargs, problem = _metric(config, metric)
    rule: dict[str, Any] = {
        "task": config.get("task"),
        "filter": filter_name,
        "steps": [],
        "dropped": [],
        "metric": name,
        "metric_kwargs": kwargs,
        "needs_doc": False,
        "problem": problem,
    }
    if config.get("output_type", "generate_until") != "generate_until":
        rule["problem"] = f"output_type {config.get('output_type')!r} is not generative"
    elif config.get("process_results") is not None:
        rule["problem"] = (
            "the task scores with its own process_results function (Python in the task's files); "
            "leash does not run task code: pass --verifier (math, exact, ...)"
        )
    elif config.get("doc_to_choice") is not None:
        rule["problem"] = "a generate_until task with doc_to_choice is not supported; pass --verifier"
    filters = config.get("filter_list") or [{"name": "none", "filter": [{"function": "take_first"}]}]
    chosen = next((f for f in filters if f.get("name") == filter_name), None)
    if chosen is None:
        names = [f.get("name") for f in filters]
        rule["problem"] = (
            rule["problem"] or f"filter {filter_name!r} is not in the task's filter_list {names}"
        )
        return rule
    for step in chosen.get("filter") or []:
        function = step.get("function")
        args = {k: v for k, v in step.items() if k != "function"}
        if function in REDUCERS:
            rule["dropped"].append(function)
        elif function in TEXT_FILTERS and not any(_is_python(v) for v in args.values()):
            rule["steps"].append([function, args])
            rule["needs_doc"] = rule["needs_doc"] or function in NEEDS_DOC
        elif rule["problem"] is None:
            rule["problem"] = (
                f"filter step {function!r} of {filter_name!r} is not run by leash "
                f"(supported: {', '.join(sorted(TEXT_FILTERS | REDUCERS))}); pass --verifier"
            )
    return rule


def score_repeat(job: dict[str, Any]) -> dict[str, Any]:
    """In a worker: one completion through the rule's filter steps, then the metric.

    job: {"text", "steps", "metric", "metric_kwargs", "target", "doc"} ->
    {"answer": the filtered answer, "score": the metric's value, "fallback": it is a
    regex step's fallback (no match)}.
    """
    import lm_eval.api.metrics  # fills the metric registry
    import lm_eval.filters  # noqa: F401  (fills the filter registry)
    from lm_eval.api.registry import get_filter, get_metric

    resps: Any = [[job["text"]]]
    fallbacks = set()
    for function, kwargs in job["steps"]:
        step = get_filter(function)(**kwargs)
        if hasattr(step, "fallback"):
            fallbacks.add(str(step.fallback))
        resps = list(step.apply(resps, [job["doc"] or {}]))
    answer = resps[0][0] if isinstance(resps[0], list | tuple) else resps[0]
    if job["metric"] not in METRICS:  # never reach get_metric's fallback to `evaluate.load`
        raise ValueError(f"metric {job['metric']!r} is not run here")
    metric_fn = get_metric(job["metric"])
    gold = job["target"]
    if isinstance(gold, list):  # lm-eval's multiple_target: correct when any target matches
        scores = metric_fn(references=gold, predictions=[answer] * len(gold), **job["metric_kwargs"])
        score = 1.0 if scores[job["metric"]] > 0.0 else 0.0
    else:
        if type(gold) is not type(answer) and not isinstance(answer, list):
            gold = type(answer)(gold)
        value = metric_fn(references=[gold], predictions=[answer], **job["metric_kwargs"])
        score = float(value[job["metric"]] if isinstance(value, dict) else value)
    return {"answer": answer, "score": score, "fallback": isinstance(answer, str) and answer in fallbacks}


class LmEvalVerifier:
    """`reference = {"answer": target, "lm_eval": rule, "doc": ...}` -> a verdict per completion."""

    name = "lm-eval"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **_: Any) -> None:
        self.workers, self.timeout = workers, timeout
        self._pool: WorkerPool | None = None
        self.cache: dict[tuple[str, str], Verdict] = {}

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool("leash.grading.lm_eval:score_repeat", self.workers, self.timeout)
        return self._pool

    def _job(self, item: GradeItem) -> dict[str, Any] | Verdict:
        ref = item.reference or {}
        rule = ref.get("lm_eval")
        if not isinstance(rule, dict):
            return failed("error", "task reference has no lm-eval rule (import with results_*.json beside)")
        if rule.get("problem"):
            # Bad for every sample of the task, and not the model's doing: refuse the whole run.
            raise LeashError(f"task {item.task_id!r}: {rule['problem']}")
        if ref.get("answer") is None:
            return failed("error", "task has no target")
        return {
            "text": item.text,
            "steps": rule["steps"],
            "metric": rule["metric"],
            "metric_kwargs": rule["metric_kwargs"],
            "target": ref["answer"],
            "doc": ref.get("doc") if rule.get("needs_doc") else None,
            "filter": rule.get("filter"),
        }

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        if importlib.util.find_spec("lm_eval") is None:
            raise LeashError(INSTALL)
        verdicts: list[Verdict | None] = [None] * len(items)
        keys: list[tuple[str, str] | None] = [None] * len(items)
        jobs: dict[tuple[str, str], dict[str, Any]] = {}
        for i, item in enumerate(items):
            job = self._job(item)
            if isinstance(job, Verdict):
                verdicts[i] = job
                continue
            keys[i] = key = (item.task_id, item.text)
            if key not in self.cache:
                jobs[key] = job
        order = list(jobs)
        if order:
            for idx, result in self.pool.map([jobs[k] for k in order]):
                self.cache[order[idx]] = self._verdict(jobs[order[idx]], result)
        return [v if v is not None else self.cache[k] for v, k in zip(verdicts, keys, strict=True)]  # type: ignore[index]

    @staticmethod
    def _verdict(job: dict[str, Any], result: Any) -> Verdict:
        if result is TIMEOUT:
            return failed("timeout", "the filter or metric passed the hard time limit")
        if isinstance(result, JobError):
            return failed("error", str(result))
        answer, score = result["answer"], float(result["score"])
        detail = f"lm-eval filter {job['filter']!r} per repeat, {job['metric']}"
        text = answer if isinstance(answer, str) else str(answer)
        if result["fallback"]:
            return Verdict(score == 1.0, score, None, "no_answer", f"{detail}: no match ({text!r})")
        return Verdict(score == 1.0, score, text, "ok", detail)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


register_verifier("lm-eval", LmEvalVerifier)
