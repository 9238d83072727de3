"""Text verifiers: `exact` (normalised string match), `choice` (a letter A-E), `regex`.

They run in the grader's process: they compare strings and never evaluate them.
"""

from __future__ import annotations

import re
from typing import Any

from leash.grading.extract import extract_final_answer, normalise_answer
from leash.grading.registry import register_verifier
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["ChoiceVerifier", "ExactVerifier", "RegexVerifier"]


def _gold(item: GradeItem) -> Any:
    return (item.reference or {}).get("answer")


class ExactVerifier:
    """Final answer (boxed, "answer is", <answer>) equals the gold after normalisation, case-folded."""

    name = "exact"

    def __init__(self, **_: Any) -> None:
        pass

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        return [self._one(item) for item in items]

    def _one(self, item: GradeItem) -> Verdict:
        gold = _gold(item)
        if gold is None:
            return failed("error", "task has no reference answer")
        raw = extract_final_answer(item.text)
        if raw is None:
            return no_answer()
        answer = normalise_answer(raw)
        golds = gold if isinstance(gold, list) else [gold]
        ok = any(answer.casefold() == normalise_answer(str(g)).casefold() for g in golds)
        return Verdict(ok, float(ok), answer, "ok")

    def close(self) -> None:
        pass


_CHOICE = re.compile(
    r"(?:answer\s*(?:is|:)?\s*|\\boxed\{|^|\()\s*\(?([A-E])\)?(?![A-Za-z])", re.IGNORECASE | re.MULTILINE
)


class ChoiceVerifier(ExactVerifier):
    """A multiple-choice letter A-E: the boxed letter, else the last "answer is X", else a lone letter."""

    name = "choice"

    def _one(self, item: GradeItem) -> Verdict:
        gold = _gold(item)
        if gold is None:
            return failed("error", "task has no reference answer")
        raw = extract_final_answer(item.text)
        letter = None
        if raw is not None and re.fullmatch(r"\s*\(?([A-Ea-e])\)?[.)]?\s*", raw):
            letter = raw.strip(" ().").upper()
        if letter is None:
            matches = _CHOICE.findall(item.text)
            letter = matches[-1].upper() if matches else None
        if letter is None:
            return no_answer("no choice letter A-E found")
        ok = letter == str(gold).strip(" ().").upper()
        return Verdict(ok, float(ok), letter, "ok")


class RegexVerifier(ExactVerifier):
    """The reference's `pattern` (a regex) must match the final answer, or the whole text."""

    name = "regex"

    def _one(self, item: GradeItem) -> Verdict:
        pattern = (item.reference or {}).get("pattern")
        if not pattern:
            return failed("error", "task reference has no 'pattern'")
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            return failed("error", f"invalid pattern: {err}")
        raw = extract_final_answer(item.text)
        target = raw if raw is not None else item.text
        ok = (
            compiled.fullmatch(target.strip()) is not None
            if raw is not None
            else bool(compiled.search(target))
        )
        return Verdict(ok, float(ok), None if raw is None else normalise_answer(raw), "ok")


register_verifier("exact", ExactVerifier)
register_verifier("choice", ChoiceVerifier)
register_verifier("regex", RegexVerifier)
