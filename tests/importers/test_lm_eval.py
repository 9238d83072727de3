"""`--format lm-eval`: samples files shaped like `lm_eval --log_samples` writes them."""

import json
import os
import re
import subprocess
import sys

import pytest

from leash.errors import LeashError
from leash.grading import grade_run
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


# --- files written by the real lm-eval ------------------------------------------------------------

TASK_YAML = """\
task: letters
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
repeats: 8
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
  do_sample: true
  temperature: 1.0
filter_list:
  - name: first-letter
    filter:
      - function: regex
        regex_pattern: "([a-z])"
      - function: take_first
  - name: maj
    filter:
      - function: regex
        regex_pattern: "([a-z])"
      - function: majority_vote
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""
DOCS = 24


@pytest.fixture(scope="module")
def lm_eval_samples(tmp_path_factory, tiny_model):
    """`lm_eval run --log_samples` on a local YAML task over a local JSONL, with the tiny model on CPU."""
    root = tmp_path_factory.mktemp("lm_eval")
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    data = write_jsonl(
        root / "letters.jsonl",
        [{"question": f"Say a letter {i}:", "answer": letters[i]} for i in range(DOCS)],
    )
    (root / "tasks").mkdir()
    (root / "tasks" / "letters.yaml").write_text(TASK_YAML.format(data=data))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(root / "hf-cache"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    proc = subprocess.run(
        [
            sys.executable, "-m", "lm_eval", "run", "--model", "hf",
            "--model_args", f"pretrained={tiny_model},dtype=float32", "--device", "cpu",
            "--tasks", "letters", "--include_path", str(root / "tasks"), "--batch_size", "16",
            "--log_samples", "--output_path", str(root / "out"),
        ],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (samples,) = (root / "out").rglob("samples_letters_*.jsonl")
    assert list(samples.parent.glob("results_*.json"))
    return samples


def by_hand(text, target):
    """The task's rule, written out: first lowercase letter (else lm-eval's fallback), equal to the target."""
    match = re.findall(r"([a-z])", text)
    answer = match[0].strip() if match else "[invalid]"
    return answer, answer == target


@pytest.mark.parametrize("filter_name", ["first-letter", "maj"])
def test_real_lm_eval_repeats_graded_per_repeat_with_the_tasks_own_rule(
    lm_eval_samples, tmp_path, filter_name
):
    lines = [json.loads(x) for x in lm_eval_samples.read_text().splitlines()]
    lines = [x for x in lines if x["filter"] == filter_name]
    assert len(lines) == DOCS and all(len(x["resps"][0]) == 8 for x in lines)
    run_dir = tmp_path / "run"
    summary = import_generations(
        lm_eval_samples, run_dir, "lm-eval", options=ImportOptions(filter=filter_name)
    )
    # lm-eval logs one exact_match per document for its 8 repeats: no per-sample grade is invented.
    assert (summary.samples_added, summary.grades_added) == (DOCS * 8, 0)
    reducers = "take_first" if filter_name == "first-letter" else "majority_vote, take_first"
    assert any(
        f"filter {filter_name!r} regex (without {reducers}), then exact_match" in n for n in summary.notes
    )

    graded = grade_run(run_dir, workers=2)  # no --verifier: the tasks name lm-eval's rule
    assert graded.graded == DOCS * 8 and set(graded.by_verifier) == {"lm-eval"}
    rows = open_run(run_dir).read("grades/lm-eval").to_pylist()
    verdicts = {(r["task_id"], r["sample_idx"]): r for r in rows}
    agree = correct = 0
    for line in lines:
        for i, text in enumerate(line["resps"][0]):
            answer, ok = by_hand(text, line["target"])
            got = verdicts[(f"letters/{line['doc_id']}", i)]
            expected_answer = None if answer == "[invalid]" else answer
            agree += (got["correct"], got["answer"]) == (ok, expected_answer)
            correct += ok
        # take_first: lm-eval's own logged value is the verdict on the first repeat.
        if filter_name == "first-letter":
            assert verdicts[(f"letters/{line['doc_id']}", 0)]["score"] == line["exact_match"]
    assert agree == DOCS * 8
    assert graded.correct == correct


def test_without_results_json_the_note_says_what_is_missing(lm_eval_samples, tmp_path):
    alone = tmp_path / lm_eval_samples.name
    alone.write_text(lm_eval_samples.read_text())
    summary = import_generations(alone, tmp_path / "run", "lm-eval")
    assert any("no results_*.json with this task's config beside" in n for n in summary.notes)
    with pytest.raises(LeashError, match="names no verifier"):
        grade_run(tmp_path / "run")


def results_json(path, stamp, metric="exact_match"):
    """A results file beside the samples, with the task config lm-eval stores in it."""
    config = {
        "task": "gsm8k", "output_type": "generate_until", "repeats": 3,
        "filter_list": [{"name": "strict-match", "filter": [
            {"function": "regex", "regex_pattern": r"#### (\-?[0-9\.\,]+)"}, {"function": "take_first"}]}],
        "metric_list": [{"metric": metric, "aggregation": "mean", "higher_is_better": True}],
    }  # fmt: skip
    (path / f"results_{stamp}.json").write_text(json.dumps({"configs": {"gsm8k": config}}))


def test_the_rule_comes_from_the_results_file_with_the_same_timestamp(tmp_path):
    stamp = "2025-01-02T03-04-05.678901"
    results_json(tmp_path, stamp)
    rows = [line(0, ["so #### 4", "#### 5", "nothing"], ["4"], 0.0)]
    src = write_jsonl(tmp_path / f"samples_gsm8k_{stamp}.jsonl", rows)
    import_generations(src, tmp_path / "run", "lm-eval")
    summary = grade_run(tmp_path / "run")
    rows = sorted(
        open_run(tmp_path / "run").read("grades/lm-eval").to_pylist(), key=lambda r: r["sample_idx"]
    )
    assert [(r["correct"], r["answer"], r["status"]) for r in rows] == [
        (True, "4", "ok"), (False, "5", "ok"), (False, None, "no_answer"),
    ]  # fmt: skip
    assert summary.correct == 1


def test_a_metric_that_runs_code_is_refused_in_one_line(tmp_path):
    stamp = "2025-01-02T03-04-05.678901"
    results_json(tmp_path, stamp, metric="code_eval")
    src = write_jsonl(tmp_path / f"samples_gsm8k_{stamp}.jsonl", [line(0, ["a", "b"], ["x"], 0.0)])
    summary = import_generations(src, tmp_path / "run", "lm-eval")
    assert any("executes the model's code" in n for n in summary.notes)
    proc = subprocess.run(
        [sys.executable, "-m", "leash", "grade", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "metric 'code_eval' executes the model's code; leash runs code only in its sandbox" in lines[0]
    assert not open_run(tmp_path / "run").shards("grades/lm-eval")
