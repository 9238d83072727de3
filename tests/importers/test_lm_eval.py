"""`--format lm-eval`: samples files shaped like `lm_eval --log_samples` writes them."""

import pytest

from leash.errors import LeashError
from leash.importers import ImportOptions, import_generations
from leash.store import open_run
from tests.conftest import write_jsonl


def line(doc_id, resps, filtered, metric_value, filt="strict-match", metric="exact_match", new_args=True):
    prompt = f"Question {doc_id}?"
    arguments = {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n"]}}} if new_args else [[prompt, {}]]
    return {
        "doc_id": doc_id,
        "doc": {"question": f"q{doc_id}", "answer": "#### 4"},
        "target": "4",
        "arguments": arguments,
        "resps": [resps],
        "filtered_resps": filtered,
        "filter": filt,
        "metrics": [metric],
        metric: metric_value,
        "doc_hash": "h",
        "prompt_hash": "p",
        "target_hash": "t",
    }


def test_repeats_with_per_sample_metric_list(tmp_path):
    rows = [
        line(0, ["... 4", "... 5", "... 4"], ["4", "5", "4"], [1, 0, 1]),
        line(1, ["... 9", "... 2", "..."], ["9", "2", "[invalid]"], [0, 0, 0], new_args=False),
    ]
    src = write_jsonl(tmp_path / "samples_gsm8k_2025-01-02T03-04-05.678901.jsonl", rows)
    summary = import_generations(src, tmp_path / "run", "lm-eval")
    assert (summary.samples_added, summary.grades_added, summary.tasks) == (6, 6, 2)
    run = open_run(tmp_path / "run")
    grades = sorted(run.read("grades/imported").to_pylist(), key=lambda g: (g["task_id"], g["sample_idx"]))
    assert [(g["task_id"], g["correct"], g["answer"]) for g in grades] == [
        ("gsm8k/0", True, "4"), ("gsm8k/0", False, "5"), ("gsm8k/0", True, "4"),
        ("gsm8k/1", False, "9"), ("gsm8k/1", False, "2"), ("gsm8k/1", False, "[invalid]"),
    ]  # fmt: skip
    tasks = {t["task_id"]: t for t in run.read_tasks().to_pylist()}
    assert tasks["gsm8k/0"]["prompt"] == "Question 0?" and tasks["gsm8k/1"]["prompt"] == "Question 1?"
    assert tasks["gsm8k/0"]["dataset"] == "gsm8k"
    assert run.meta()["source"]["metric"] == "exact_match"


def test_one_score_for_several_repeats_imports_ungraded_with_a_note(tmp_path):
    rows = [line(0, ["a", "b"], ["4"], 1.0, filt="maj@2")]
    src = write_jsonl(tmp_path / "samples_gsm8k_2025-01-02T03-04-05.jsonl", rows)
    summary = import_generations(src, tmp_path / "run", "lm-eval")
    assert (summary.samples_added, summary.grades_added) == (2, 0)
    assert any("1 documents log one 'exact_match' value for several completions" in n for n in summary.notes)


def test_several_filters_pick_one(tmp_path):
    rows = [
        line(0, ["x 4"], ["4"], 1, filt="strict-match"),
        line(0, ["x 4"], ["x 4"], 0, filt="flexible-extract"),
    ]
    src = write_jsonl(tmp_path / "samples_t_2025-01-02T03-04-05.jsonl", rows)
    first = import_generations(src, tmp_path / "a", "lm-eval")
    assert first.grades_added == 1 and any("filter 'strict-match'" in n for n in first.notes)
    other = import_generations(
        src, tmp_path / "b", "lm-eval", options=ImportOptions(filter="flexible-extract")
    )
    assert open_run(tmp_path / "b").read("grades/imported")["correct"].to_pylist() == [False]
    assert other.samples_added == 1
    with pytest.raises(LeashError, match=r"no rows for filter 'nope'; filters in the file"):
        import_generations(src, tmp_path / "c", "lm-eval", options=ImportOptions(filter="nope"))


def test_bad_lm_eval_lines(tmp_path):
    src = write_jsonl(tmp_path / "samples_t_2025-01-02T03-04-05.jsonl", [{"task_id": "a", "completion": "x"}])
    with pytest.raises(LeashError, match=r":1: missing field 'doc_id'; expected lm-eval --log_samples"):
        import_generations(src, tmp_path / "run", "lm-eval")
    loglik = line(0, ["x"], ["x"], 1)
    loglik["resps"] = [[["-1.2", "False"]], [["-3.4", "False"]]]
    src = write_jsonl(tmp_path / "samples_mc_2025-01-02T03-04-05.jsonl", [loglik])
    with pytest.raises(LeashError, match="holds 2 requests; leash imports generative tasks"):
        import_generations(src, tmp_path / "run", "lm-eval")
    assert not (tmp_path / "run").exists()
