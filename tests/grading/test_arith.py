"""The arith verifier against a brute-force enumeration of expressions."""

import itertools

from leash.grading import GradeItem, get_verifier
from leash.grading.arith import evaluate


def test_evaluate_follows_precedence_and_refuses_anything_else():
    assert evaluate("3*4+5") == (17, [3, 4, 5])
    assert evaluate("3*(4+5)") == (27, [3, 4, 5])
    assert evaluate(" 9 - 2 - 3 ") == (4, [9, 2, 3])
    for bad in ("3**4", "__import__('os')", "3+", "(3+4", "3 4", "", "1" * 70, "3/4"):
        assert evaluate(bad) is None, bad


def test_every_correct_expression_and_no_wrong_one_is_accepted():
    verifier = get_verifier("arith")
    numbers, target = [2, 3, 4], 10
    ref = {"numbers": numbers, "target": target}
    expressions = [
        f"{a}{o1}{b}{o2}{c}" for a, b, c in itertools.permutations(numbers) for o1 in "+-*" for o2 in "+-*"
    ]
    verdicts = verifier.grade([GradeItem("t", e + "\nrest ignored", ref) for e in expressions])
    # Brute force: Python's own arithmetic on the same trusted, generated strings.
    expected = [eval(e) == target for e in expressions]
    assert [v.correct for v in verdicts] == expected
    assert sum(expected) > 1  # several distinct correct answers
    wrong_numbers, empty = verifier.grade([GradeItem("t", "2*4+2", ref), GradeItem("t", "", ref)])
    assert not wrong_numbers.correct and "exactly once" in wrong_numbers.detail
    assert empty.status == "no_answer"
