"""The `rg` verifier: reasoning-gym's own `score_answer`, run inside the sandbox.

The answer is the last <answer>...</answer> (after </think>), as reasoning-gym's
prompts ask. Several scorers evaluate the answer text (countdown parses it with
sympy's `parse_expr`, which calls `eval`; `9**9**9` ran for over 30 s), so every
scorer runs in a sandboxed zygote that forks per job under a hard limit. A scorer
that raises (boxnet on valid JSON that is not a list) gives status `error`.
Correct iff the score is 1.0; the partial credit goes to `score`.
"""

from __future__ import annotations

from typing import Any

from leash.grading.extract import after_think, extract_tag
from leash.grading.registry import register_verifier
from leash.grading.sandbox import SandboxPool
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["RGVerifier"]

_MAX_ANSWER_CHARS = 20_000


class RGVerifier:
    name = "rg"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **_: Any) -> None:
        self.workers, self.timeout = workers, timeout
        self._pool: SandboxPool | None = None
        self.cache: dict[tuple[str, str], Verdict] = {}

    @property
    def pool(self) -> SandboxPool:
        if self._pool is None:
            self._pool = SandboxPool("rg", self.workers, self.timeout)
        return self._pool

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        keys: list[tuple[str, str] | None] = [None] * len(items)
        jobs: dict[tuple[str, str], dict[str, Any]] = {}
        for i, item in enumerate(items):
            ref = item.reference or {}
            if "entry" not in ref or "rg_dataset" not in ref:
                verdicts[i] = failed("error", "task reference has no reasoning-gym entry")
                continue
            answer = extract_tag(after_think(item.text))
            if answer is None or not answer.strip():
                verdicts[i] = no_answer("no <answer>...</answer>")
                continue
            answer = answer.strip()
            if len(answer) > _MAX_ANSWER_CHARS:
                verdicts[i] = Verdict(False, 0.0, answer[:200], "ok", "answer longer than 20,000 characters")
                continue
            keys[i] = key = (item.task_id, answer)
            if key not in self.cache:
                jobs[key] = {"dataset": ref["rg_dataset"], "entry": ref["entry"], "answer": answer}
        order = list(jobs)
        if order:
            for idx, result in self.pool.map([jobs[k] for k in order]):
                self.cache[order[idx]] = self._verdict(order[idx][1], result)
        return [v if v is not None else self.cache[k] for v, k in zip(verdicts, keys, strict=True)]  # type: ignore[index]

    @staticmethod
    def _verdict(answer: str, result: dict[str, Any]) -> Verdict:
        if result["status"] == "timeout":
            return failed("timeout", "the scorer passed the hard time limit", answer)
        if result["status"] != "ok":
            return failed("error", str(result["value"]), answer)
        score = float(result["value"])
        return Verdict(score == 1.0, score, answer, "ok")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


register_verifier("rg", RGVerifier)
