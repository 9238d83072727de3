"""The lab's task family: reach a target from three numbers (a compact Countdown).

    prompt   "3 5 7 > 22"          completion   "3*5+7"   (or "5*3+7", "7+3*5", ...)

A problem's target comes from one of several expression templates (solution
modes), so it usually has several distinct correct answers, and modes differ in
how often the base model's training data uses them. The task source
`lab:arith?size=64&seed=0` (leash.tasks.sources) serves these problems; this module
knows nothing of sources, so the two never import each other. Graded by the `arith`
verifier (parsed, never evaluated).
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from leash.grading.arith import evaluate

__all__ = ["MODES", "arith_problems", "prompt_of", "solutions"]

# (template, weight in the base model's pre-training data): frequent and rare modes.
MODES: list[tuple[str, float]] = [
    ("a+b+c", 6.0),
    ("a*b+c", 3.0),
    ("a*b-c", 2.0),
    ("a+b-c", 1.0),
    ("(a+b)*c", 0.5),
]


def _fill(template: str, numbers: tuple[int, ...]) -> str:
    return template.replace("a", str(numbers[0])).replace("b", str(numbers[1])).replace("c", str(numbers[2]))


def solutions(numbers: list[int], target: int) -> dict[str, str]:
    """Every correct expression (template instance) for a problem -> the template it comes from."""
    found: dict[str, str] = {}
    for perm in itertools.permutations(numbers):
        for template, _ in MODES:
            expression = _fill(template, perm)
            result = evaluate(expression)
            if result is not None and result[0] == target:
                found.setdefault(expression, template)
    return found


def arith_problems(size: int, seed: int) -> list[dict[str, Any]]:
    """`size` problems: three numbers 1-9 and a target reached by a random mode (uniform)."""
    rng = random.Random(seed)
    problems: list[dict[str, Any]] = []
    while len(problems) < size:
        numbers = [rng.randint(1, 9) for _ in range(3)]
        template, _ = rng.choice(MODES)
        perm = rng.sample(numbers, 3)
        result = evaluate(_fill(template, tuple(perm)))
        if result is None or result[0] <= 0:
            continue
        problems.append({"numbers": numbers, "target": result[0]})
    return problems


def prompt_of(problem: dict[str, Any]) -> str:
    """The prompt the models see: `3 5 7 > 22`."""
    a, b, c = problem["numbers"]
    return f"{a} {b} {c} > {problem['target']}"
