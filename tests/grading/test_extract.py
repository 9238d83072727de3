"""Final-answer extraction and normalisation."""

import pytest

from leash.grading.extract import extract_boxed, extract_final_answer, extract_tag, normalise_answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so \\boxed{42}.", "42"),
        ("\\boxed{1} then \\boxed{\\frac{a}{b}}", "\\frac{a}{b}"),
        ("nested \\boxed{\\left\\{1, {2}\\right\\}} end", "\\left\\{1, {2}\\right\\}"),
        ("unclosed \\boxed{3} and \\boxed{4", "3"),
        ("The final answer is $7$. Done", "$7$"),
        ("Answer: 12", "12"),
        ("<answer>x+1</answer>", "x+1"),
        ("<think>\\boxed{1}</think> so it is \\boxed{2}", "2"),
        ("<think>\\boxed{1}</think> no answer after thinking", None),
        ("nothing at all", None),
        ("", None),
    ],
)
def test_extract_final_answer(text, answer):
    assert extract_final_answer(text) == answer


def test_helpers():
    assert extract_boxed("\\fbox{5}") == "5"
    assert extract_tag("<answer>a</answer><answer>b</answer>") == "b"
    assert normalise_answer(" $\\left( 1,2 \\right)$. ") == "( 1,2 )"
    assert normalise_answer("\\dfrac{1}{2}") == "\\frac{1}{2}"
    assert normalise_answer("\\text{ yes }") == "yes"
