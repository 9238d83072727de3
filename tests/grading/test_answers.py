"""`grade_answers`: a canonical answer written back as a completion is read as itself by its
verifier, and is judged as the completion that gave it was."""

import pytest

from leash.grading import get_verifier
from leash.grading.answers import ANSWER_TEXT, grade_answers
from leash.grading.verdict import GradeItem

CASES = {  # verifier -> (reference, completions)
    "exact": ({"answer": "Paris"}, ["The answer is paris.", "answer: Lyon", "\\boxed{ Paris }"]),
    "choice": ({"answer": "C"}, ["I pick (C).", "The answer is B", "\\boxed{c}"]),
    "regex": ({"pattern": r"4\d"}, ["answer: 42", "Final answer: 7"]),
    "arith": ({"numbers": [2, 3, 4], "target": 14}, ["2 + 3 * 4\nbecause", "(2+3)*4", "2*3*4"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_answers_round_trip_through_their_verifier(name):
    reference, texts = CASES[name]
    engine = get_verifier(name, workers=1)
    verdicts = engine.grade([GradeItem("t", text, reference) for text in texts])
    engine.close()
    answers = [v.answer for v in verdicts]
    assert all(a is not None for a in answers)
    again = get_verifier(name, workers=1).grade(
        [GradeItem("t", ANSWER_TEXT[name](a), reference) for a in answers]
    )
    assert [v.answer for v in again] == answers
    ok, failed = grade_answers(name, [("t", a) for a in answers], {"t": reference}, workers=1)
    assert ok == [v.correct for v in verdicts] and failed == 0
    assert any(ok) and not all(ok)  # the cases hold a right and a wrong answer
