"""Every verifier: gold -> correct, empty -> incorrect with a status; the same graders as rewards."""

import json

import pytest
import reasoning_gym

from leash.grading import VERIFIERS, GradeItem, get_verifier
from leash.grading.lm_eval import rule_from_config
from leash.rewards import compute_score, reward_function

entry = json.loads(json.dumps(reasoning_gym.create_dataset("leg_counting", size=1, seed=0)[0], default=str))
GOLD = {
    "math": ({"answer": "\\frac{3}{4}"}, "so \\boxed{0.75}"),
    "exact": ({"answer": "Paris"}, "The answer is paris."),
    "choice": ({"answer": "C"}, "I pick (C)."),
    "regex": ({"pattern": r"\d+ apples"}, "Answer: 12 apples"),
    "rg": ({"rg_dataset": "leg_counting", "entry": entry}, f"<answer>{entry['answer']}</answer>"),
    "code": ({"tests": ["assert sq(3) == 9"]}, "```python\ndef sq(x):\n    return x * x\n```"),
    "arith": ({"numbers": [3, 4, 5], "target": 17}, "3*4+5\n"),
    "lm-eval": (
        {
            "answer": "k",
            "lm_eval": rule_from_config(
                {
                    "filter_list": [
                        {
                            "name": "f",
                            "filter": [
                                {"function": "regex", "regex_pattern": "([a-z])"},
                                {"function": "take_first"},
                            ],
                        }
                    ]
                },
                "f",
            ),
        },
        "K? k!",
    ),
}


def test_every_registered_verifier_is_covered():
    assert set(GOLD) == set(VERIFIERS)


@pytest.mark.parametrize("name", sorted(GOLD))
def test_gold_is_correct_and_empty_is_incorrect_with_a_status(name):
    reference, gold_text = GOLD[name]
    verifier = get_verifier(name, workers=1, timeout=5.0)
    try:
        gold, empty = verifier.grade([GradeItem("t", gold_text, reference), GradeItem("t", "", reference)])
    finally:
        verifier.close()
    assert gold.correct and gold.status == "ok", gold
    assert not empty.correct and empty.status in ("no_answer", "ok"), empty


def test_trl_reward_function_reads_dataset_columns():
    reward = reward_function("math")
    completions = ["\\boxed{2}", "\\boxed{3}", [{"role": "assistant", "content": "\\boxed{4}"}]]
    scores = reward(completions, answer=["2", "2", "4"], prompts=["p"] * 3, task_id=["a", "a", "b"])
    assert scores == [1.0, 0.0, 1.0]
    assert reward.__name__ == "leash_math"
    rg = reward_function("rg", reward="score")
    assert rg(
        ["<answer>1</answer>"], reference=[json.dumps({"rg_dataset": "leg_counting", "entry": entry})]
    ) == [1.0 if entry["answer"] == "1" else 0.0]


def test_verl_compute_score():
    assert compute_score("math", "so \\boxed{\\frac{1}{2}}", "0.5") == 1.0
    assert compute_score("openai/gsm8k", "\\boxed{7}", "8") == 0.0
    code_ref = {"tests": ["assert f() == 1"]}
    assert compute_score("mbpp", "def f():\n    return 1", code_ref, {"verifier": "code"}) == 1.0
