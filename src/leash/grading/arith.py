"""The `arith` verifier: reach a target from given numbers (Countdown-style), checked safely.

The answer is the completion's first line. It must be an arithmetic expression
over + - * and parentheses that uses each of the task's numbers exactly once and
evaluates to the target. The expression is parsed by a small recursive-descent
parser and evaluated on Python integers: nothing is ever passed to `eval`, so it
runs in the grader's process. Distinct correct expressions are distinct answers.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from leash.grading.registry import register_verifier
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["ArithVerifier", "evaluate"]

_TOKEN = re.compile(r"\s*(\d+|[+\-*()])")
_MAX_CHARS = 64


def _tokens(text: str) -> list[str] | None:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            return None
        out.append(match.group(1))
        pos = match.end()
    return out


def evaluate(expression: str) -> tuple[int, list[int]] | None:
    """(value, numbers used) of an expression over + - * ( ), or None if it is not one."""
    tokens = _tokens(expression)
    if not tokens or len(expression) > _MAX_CHARS:
        return None
    pos = 0
    used: list[int] = []

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def atom() -> int:
        nonlocal pos
        token = peek()
        if token == "(":
            pos += 1
            value = expr()
            if peek() != ")":
                raise ValueError("unclosed parenthesis")
            pos += 1
            return value
        if token is None or not token.isdigit():
            raise ValueError("expected a number")
        pos += 1
        used.append(int(token))
        return int(token)

    def term() -> int:
        nonlocal pos
        value = atom()
        while peek() == "*":
            pos += 1
            value *= atom()
        return value

    def expr() -> int:
        nonlocal pos
        value = term()
        while peek() in ("+", "-"):
            op = peek()
            pos += 1
            value = value + term() if op == "+" else value - term()
        return value

    try:
        value = expr()
    except ValueError:
        return None
    return (value, used) if pos == len(tokens) else None


class ArithVerifier:
    name = "arith"

    def __init__(self, **_: Any) -> None:
        pass

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        return [self._one(item) for item in items]

    def _one(self, item: GradeItem) -> Verdict:
        ref = item.reference or {}
        if "numbers" not in ref or "target" not in ref:
            return failed("error", "task reference needs 'numbers' and 'target'")
        line = item.text.strip().split("\n", 1)[0].strip() if item.text.strip() else ""
        if not line:
            return no_answer()
        result = evaluate(line)
        answer = re.sub(r"\s+", "", line)[:_MAX_CHARS]
        if result is None:
            return Verdict(False, 0.0, answer, "ok", "not an expression over + - * ( )")
        value, used = result
        if Counter(used) != Counter(int(n) for n in ref["numbers"]):
            return Verdict(False, 0.0, answer, "ok", "must use each given number exactly once")
        ok = value == int(ref["target"])
        return Verdict(ok, float(ok), answer, "ok", None if ok else f"= {value}")

    def close(self) -> None:
        pass


register_verifier("arith", ArithVerifier)
