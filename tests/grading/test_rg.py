"""The rg verifier: reasoning-gym's scorers, run in the sandbox."""

import json
import time

import pytest
import reasoning_gym

from leash.grading import GradeItem, get_verifier


@pytest.fixture(scope="module")
def rg_verifier():
    verifier = get_verifier("rg", workers=2, timeout=3.0)
    yield verifier
    verifier.close()


def item(name, entry, answer, task_id="t"):
    text = f"thinking... <answer>{answer}</answer>" if answer is not None else "no tags"
    return GradeItem(task_id, text, {"rg_dataset": name, "entry": json.loads(json.dumps(entry, default=str))})


def test_countdown_gold_alternatives_partial_credit_and_eval_attacks(rg_verifier, tmp_path):
    entry = reasoning_gym.create_dataset("countdown", size=1, seed=3)[0]
    canary = tmp_path / "canary"
    canary.write_text("keep")
    canary.parent.chmod(0o755)
    items = [
        item("countdown", entry, entry["answer"]),
        item("countdown", entry, "1+2"),
        item("countdown", entry, None),
        item("countdown", entry, f"__import__('os').remove('{canary}')"),
        item("countdown", entry, "9**9**9"),
    ]
    start = time.monotonic()
    gold, partial, missing, attack, bomb = rg_verifier.grade(items)
    assert gold.correct and gold.score == 1.0
    assert not partial.correct and partial.score == 0.05  # reasoning-gym's partial credit
    assert missing.status == "no_answer"
    assert not attack.correct and canary.read_text() == "keep"
    assert bomb.status == "timeout" and not bomb.correct
    assert time.monotonic() - start < 20


def test_every_registered_dataset_scores_its_own_answer(rg_verifier):
    names = [
        "leg_counting",
        "basic_arithmetic",
        "word_sorting",
        "chain_sum",
        "spell_backward",
        "gsm_symbolic",
    ]
    items = []
    for name in names:
        entry = reasoning_gym.create_dataset(name, size=1, seed=0)[0]
        items.append(item(name, entry, entry["answer"], task_id=name))
    verdicts = rg_verifier.grade(items)
    assert [v.correct for v in verdicts] == [True] * len(names), verdicts


def test_a_scorer_that_raises_is_an_error_verdict(rg_verifier):
    entry = reasoning_gym.create_dataset("boxnet", size=1, seed=0)[0]
    (verdict,) = rg_verifier.grade([item("boxnet", entry, '{"not": "a list"}')])
    assert not verdict.correct and verdict.status in ("error", "ok")
    (missing,) = rg_verifier.grade([GradeItem("x", "<answer>1</answer>", None)])
    assert missing.status == "error"
