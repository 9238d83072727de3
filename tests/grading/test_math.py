"""The math verifier: a table of equivalences, non-equivalences, and hostile inputs."""

import time

import pytest

from leash.grading import GradeItem, get_verifier


@pytest.fixture(scope="module")
def math_verifier():
    verifier = get_verifier("math", workers=2, timeout=30.0)  # generous: the machine may be loaded
    yield verifier
    verifier.close()


CASES = [
    # (gold, completion, correct)
    ("\\frac{1}{2}", "\\boxed{0.5}", True),
    ("\\frac{1}{2}", "\\boxed{\\dfrac{2}{4}}", True),
    ("\\frac{1}{2}", "\\boxed{1/2}", True),
    ("0.25", "\\boxed{\\frac14}", True),
    ("\\sqrt{2}", "\\boxed{2^{1/2}}", True),
    ("2\\sqrt{3}", "\\boxed{\\sqrt{12}}", True),
    ("(1, 3]", "\\boxed{(1,3]}", True),
    ("[0, \\infty)", "\\boxed{[0,\\infty)}", True),
    ("\\{1, 2, 3\\}", "\\boxed{\\{3,2,1\\}}", True),
    ("x^2+2x+1", "\\boxed{(x+1)^2}", True),
    ("42", "The final answer is 42.", True),
    ("\\frac{1}{2}", "\\boxed{0.51}", False),
    ("\\sqrt{2}", "\\boxed{1.414}", False),
    ("(1, 3]", "\\boxed{[1,3]}", False),
    ("\\{1, 2, 3\\}", "\\boxed{\\{1,2\\}}", False),
    ("x^2+2x+1", "\\boxed{(x-1)^2}", False),
    ("7", "<think>\\boxed{7}</think> so \\boxed{8}", False),
    ("-3", "\\boxed{3}", False),
]


def test_equivalences_and_non_equivalences(math_verifier):
    items = [GradeItem(f"t{i}", text, {"answer": gold}) for i, (gold, text, _) in enumerate(CASES)]
    verdicts = math_verifier.grade(items)
    wrong = [(c, v) for c, v in zip(CASES, verdicts, strict=True) if v.correct != c[2]]
    assert not wrong
    assert all(v.status == "ok" for v in verdicts)


def test_each_distinct_answer_is_verified_once(math_verifier):
    items = [GradeItem("same", f"work {i} \\boxed{{0.5}}", {"answer": "\\frac{1}{2}"}) for i in range(50)]
    before = len(math_verifier.cache)
    verdicts = math_verifier.grade(items)
    assert all(v.correct for v in verdicts)
    assert len(math_verifier.cache) - before == 1


HOSTILE = [
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{10^{10^{10}}}",
    "\\boxed{" + "7" * 1_000_000 + "}",
    "\\boxed{" + "\\frac{1}{1+" * 50 + "1" + "}" * 50 + "}",
    "\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}",
    "\\boxed{(10^{7})!}",
]


def test_pathological_answers_end_within_the_limit():
    verifier = get_verifier("math", workers=2, timeout=5.0)
    assert verifier.pool.workers  # started (and warmed up) before the clock
    start = time.monotonic()
    try:
        verdicts = verifier.grade(
            [GradeItem(f"h{i}", text, {"answer": "2"}) for i, text in enumerate(HOSTILE)]
        )
    finally:
        verifier.close()
    elapsed = time.monotonic() - start
    assert all(not v.correct for v in verdicts)
    assert all(v.status in ("ok", "timeout") for v in verdicts), verdicts
    # Six answers, two workers, a 5 s hard limit each, once in a chunk and once alone, plus a
    # warm-up for each replaced worker (seconds idle, far more on a loaded machine). Without the
    # hard limit the towers and (10^7)! would run for hours: the bound proves the kill, not speed.
    assert elapsed < 5 + 6 * 5 / 2 + 120


def test_a_huge_integer_is_read_as_itself(math_verifier):
    big = "1" + "0" * 10_000
    text = f"First $x = 2$. Then the result is \\boxed{{{big}}}"
    (wrong,) = math_verifier.grade([GradeItem("big", text, {"answer": "2"})])
    assert not wrong.correct  # not the earlier "x = 2"
    (right,) = math_verifier.grade([GradeItem("big2", text, {"answer": big})])
    assert right.correct


def test_bad_input_gives_statuses(math_verifier):
    items = [
        GradeItem("a", "", {"answer": "1"}),
        GradeItem("b", "\\boxed{1}", None),
        GradeItem("c", "x" * 10_000_000 + " \\boxed{1}", {"answer": "1"}),
        GradeItem("d", "\udcff\\boxed{1}", {"answer": "1"}),
    ]
    a, b, c, d = math_verifier.grade(items)
    assert (a.status, a.correct) == ("no_answer", False)
    assert (b.status, b.correct) == ("error", False)
    assert c.correct and d.correct
