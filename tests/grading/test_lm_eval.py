"""The lm-eval verifier: lm-eval's own filters and metric per repeat, and what it refuses to run."""

import re

import pytest
from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters.extraction import RegexFilter

import leash.grading.lm_eval as lm_eval_verifier
from leash.errors import LeashError
from leash.grading import GradeItem, get_verifier
from leash.grading.lm_eval import rule_from_config


def config(filters=None, metrics=None, **extra):
    return {
        "task": "t",
        "output_type": "generate_until",
        "filter_list": filters
        or [{"name": "strict", "filter": [{"function": "regex", "regex_pattern": r"#### (\-?\d+)"},
                                          {"function": "take_first"}]}],
        "metric_list": metrics or [{"metric": "exact_match", "aggregation": "mean", "ignore_case": True}],
        **extra,
    }  # fmt: skip


def test_the_rule_keeps_the_pipeline_without_reducers_and_the_metric_kwargs():
    rule = rule_from_config(config(), "strict")
    assert rule["steps"] == [["regex", {"regex_pattern": r"#### (\-?\d+)"}]]
    assert rule["dropped"] == ["take_first"] and rule["problem"] is None
    assert (rule["metric"], rule["metric_kwargs"]) == ("exact_match", {"ignore_case": True})
    default = rule_from_config({"task": "t", "output_type": "generate_until"}, "none")
    assert (default["steps"], default["dropped"], default["metric"]) == ([], ["take_first"], "exact_match")


@pytest.fixture(scope="module")
def verifier():
    v = get_verifier("lm-eval", workers=2, timeout=5.0)
    yield v
    v.close()


TEXTS = ["so #### 42", "#### -7 then #### 42", "no number", "", "#### 4", "x" * 10_000 + " #### 42"]


def test_verdicts_equal_lm_evals_own_filter_and_metric_called_directly(verifier):
    filters = [{"name": "lower", "filter": [{"function": "regex", "regex_pattern": r"answer: (\w+)"},
                                            {"function": "lowercase"}, {"function": "majority_vote"}]}]  # fmt: skip
    cases = [
        (rule_from_config(config(), "strict"), "42", TEXTS),
        (rule_from_config(config(filters), "lower"), "Paris", ["answer: PARIS", "answer: Rome", "answer:"]),
    ]
    for rule, target, texts in cases:
        items = [GradeItem("t", text, {"answer": target, "lm_eval": rule}) for text in texts]
        for text, verdict in zip(texts, verifier.grade(items), strict=True):
            # lm-eval's classes, called here by hand on one repeat
            answer = [[text]]
            for name, kwargs in rule["steps"]:
                if name == "regex":
                    answer = RegexFilter(**kwargs).apply(answer, [{}])
                else:
                    answer = [[a.lower() for a in answer[0]]]
            expected = exact_match_hf_evaluate([answer[0][0]], [target], **rule["metric_kwargs"])
            assert verdict.score == expected["exact_match"], (text, verdict)
            assert verdict.correct == (expected["exact_match"] == 1.0)
            assert verdict.status == ("no_answer" if answer[0][0] == "[invalid]" else "ok")


def test_a_list_target_passes_when_any_target_matches(verifier):
    rule = rule_from_config(config(), "strict")
    good, bad = verifier.grade(
        [GradeItem("t", "#### 3", {"answer": ["2", "3"], "lm_eval": rule}),
         GradeItem("t", "#### 4", {"answer": ["2", "3"], "lm_eval": rule})]
    )  # fmt: skip
    assert good.correct and not bad.correct


def test_a_backtracking_regex_is_killed_at_the_hard_limit():
    rule = rule_from_config(
        config([{"name": "evil", "filter": [{"function": "regex", "regex_pattern": r"(a+)+$"}]}]), "evil"
    )
    slow = get_verifier("lm-eval", workers=1, timeout=2.0)
    try:
        (verdict,) = slow.grade([GradeItem("t", "a" * 40 + "!", {"answer": "a", "lm_eval": rule})])
    finally:
        slow.close()
    assert verdict.status == "timeout" and not verdict.correct


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        (
            config(metrics=[{"metric": "code_eval"}]),
            "executes the model's code; leash runs code only in its sandbox",
        ),
        (
            config(metrics=[{"metric": "def pass_at_k(references, predictions):\n    ...\n"}]),
            "own Python metric",
        ),
        (
            config(metrics=[{"metric": "bleu"}]),
            "metric 'bleu' is not graded per repeat (supported: exact_match)",
        ),
        (config(process_results="def process_results(doc, results):\n    ...\n"), "own process_results"),
        (
            config([{"name": "c", "filter": [{"function": "custom", "filter_fn": "<function f>"}]}]),
            "'custom'",
        ),
        (config(output_type="multiple_choice"), "is not generative"),
    ],
)
def test_task_code_and_code_metrics_are_refused_in_one_line(verifier, cfg, fragment):
    filter_name = cfg["filter_list"][0]["name"]
    rule = rule_from_config(cfg, filter_name)
    assert fragment in rule["problem"]
    with pytest.raises(LeashError, match=re.escape(fragment)):
        verifier.grade([GradeItem("t/0", "#### 1", {"answer": "1", "lm_eval": rule})])


def test_without_lm_eval_installed_one_line_says_what_to_install(monkeypatch):
    # lm-eval is installed here; its absence is what this test needs, so the lookup is patched.
    monkeypatch.setattr(lm_eval_verifier.importlib.util, "find_spec", lambda name: None)
    v = get_verifier("lm-eval", workers=1)
    with pytest.raises(LeashError, match=re.escape("pip install 'leash[lm-eval]'")):
        v.grade([GradeItem("t", "#### 1", {"answer": "1", "lm_eval": rule_from_config(config(), "strict")})])
    v.close()
