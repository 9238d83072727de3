"""The `math` verifier: Math-Verify, gold first, behind a fast path and a hard limit.

1. extract the final answer in the grader (last \\boxed{} with braces matched, "final
   answer is ...", <answer>; only after </think>), and normalise it;
2. a normalised answer equal to the normalised gold is correct without parsing;
3. otherwise `verify(gold, answer)` runs once per distinct (task, answer) in worker
   processes killed at the hard wall-clock limit (a timeout is a verdict, incorrect);
4. with no final answer found, the worker lets Math-Verify find the last LaTeX
   expression of the text (after </think>).

Completions are parsed as LaTeX only: Math-Verify's plain-expression path goes
through sympy's `parse_expr`, which calls `eval`, and model text is never evaluated
outside the sandbox. Workers lift Python's 4300-digit limit, so a huge integer is
read as itself and not silently replaced by an earlier expression. The `answer`
column is the normalised string, never a sympy printout (printing can hang).
"""

from __future__ import annotations

import functools
from typing import Any

from leash.grading.extract import after_think, extract_final_answer, normalise_answer
from leash.grading.pool import TIMEOUT, JobError, WorkerPool
from leash.grading.registry import register_verifier
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["MathVerifier", "verify_job"]

_FALLBACK_CHARS = 4000  # the tail of a completion searched when no final answer is marked


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> Any:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    # The gold is trusted text: both extractors may read it.
    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    text = gold if "$" in gold or "\\boxed" in gold else f"\\boxed{{{gold}}}"
    return parse(text, extraction_config=configs) or parse(f"${gold}$", extraction_config=configs)


def verify_job(job: tuple[str, str, bool]) -> tuple[bool, str | None]:
    """In a worker: (gold, answer or text, is_text) -> (correct, extracted answer)."""
    from math_verify import LatexExtractionConfig, parse, verify

    gold, answer, is_text = job
    gold_parsed = _parse_gold(gold)
    latex_only = [LatexExtractionConfig()]
    if is_text:
        pred = parse(answer, extraction_config=latex_only)
        if not pred:
            return False, None
        extracted = pred[-1] if isinstance(pred[-1], str) else None
        return bool(gold_parsed) and bool(verify(gold_parsed, pred)), extracted
    pred = parse(f"\\boxed{{{answer}}}", extraction_config=latex_only)
    if not pred or not gold_parsed:
        return False, answer
    return bool(verify(gold_parsed, pred)), answer


class MathVerifier:
    name = "math"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **_: Any) -> None:
        self.workers, self.timeout = workers, timeout
        self._pool: WorkerPool | None = None
        self.cache: dict[tuple[str, str], Verdict] = {}

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool("leash.grading.math:verify_job", self.workers, self.timeout)
        return self._pool

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        jobs: dict[tuple[str, str], tuple[str, str, bool]] = {}
        keys: list[tuple[str, str] | None] = [None] * len(items)
        for i, item in enumerate(items):
            gold = (item.reference or {}).get("answer")
            if gold is None:
                verdicts[i] = failed("error", "task has no reference answer")
                continue
            gold = str(gold[0] if isinstance(gold, list) and gold else gold)
            raw = extract_final_answer(item.text)
            if raw is None:
                tail = after_think(item.text)[-_FALLBACK_CHARS:]
                key = (item.task_id, "\x00text\x00" + tail)
                job = (gold, tail, True)
            else:
                answer = normalise_answer(raw)
                if not answer:
                    verdicts[i] = no_answer("empty final answer")
                    continue
                if answer == normalise_answer(gold):
                    verdicts[i] = Verdict(True, 1.0, answer, "ok", "equal to the gold")
                    continue
                key = (item.task_id, answer)
                job = (gold, answer, False)
            keys[i] = key
            if key not in self.cache:
                jobs[key] = job
        order = list(jobs)
        for idx, result in self.pool.map([jobs[k] for k in order]):
            self.cache[order[idx]] = self._verdict(order[idx], result)
        return [v if v is not None else self.cache[k] for v, k in zip(verdicts, keys, strict=True)]  # type: ignore[index]

    @staticmethod
    def _verdict(key: tuple[str, str], result: Any) -> Verdict:
        is_text = key[1].startswith("\x00text\x00")
        answer = None if is_text else key[1]
        if result is TIMEOUT:
            return failed("timeout", "verification passed the hard time limit", answer)
        if isinstance(result, JobError):
            return failed("error", str(result), answer)
        correct, extracted = result
        if is_text:
            if extracted is None:
                return no_answer()
            answer = normalise_answer(extracted)
        return Verdict(bool(correct), float(bool(correct)), answer, "ok")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


register_verifier("math", MathVerifier)
