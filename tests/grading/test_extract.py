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
        # Minerva / lm-eval minerva_math: the X of the closing sentence, not the sentence.
        ("Final Answer: The final answer is $14{,}916$. I hope it is correct.", "$14{,}916$"),
        ("so $\\boxed{24}$.\nFinal Answer: The final answer is $14$. I hope it is correct.", "$14$"),
        # An explicit closing sentence beats an earlier box; a box inside the sentence is the box.
        ("We guess \\boxed{12}. Halving, the final answer is $10$.", "$10$"),
        ("Therefore, the final answer is $\\boxed{5}$.", "5"),
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
    # LaTeX thousands separators are one number, not a list.
    assert normalise_answer("32,\\! 349") == "32349"
    assert normalise_answer("$14{,}916$") == "14916"
    assert normalise_answer("11,\\!111,\\!111,\\!100") == "11111111100"
    assert normalise_answer("1,2") == "1,2"
