"""`leash grade` on a run: resumable shards, statuses, per-task verifiers, bad input."""

import json
import subprocess
import sys

import pytest

from leash.compare import compare_runs
from leash.errors import LeashError
from leash.grading import grade_run
from leash.importers import import_generations
from leash.store import open_run
from tests.conftest import write_jsonl


def make_run(tmp_path, name, answers):
    rows = [{"task_id": t, "completion": c} for t, cs in answers.items() for c in cs]
    tasks = [
        {"task_id": "half", "prompt": "1/2?", "answer": "\\frac{1}{2}", "verifier": "math", "dataset": "toy"},
        {"task_id": "four", "prompt": "2+2?", "answer": "4", "verifier": "math", "dataset": "toy"},
    ]
    write_jsonl(tmp_path / f"{name}.jsonl", rows)
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    import_generations(tmp_path / f"{name}.jsonl", tmp_path / name, tasks_file=tmp_path / "tasks.jsonl")
    return tmp_path / name


def test_grade_then_compare(tmp_path):
    base = make_run(
        tmp_path, "base", {"half": ["\\boxed{0.5}", "\\boxed{2}", "nothing"], "four": ["\\boxed{5}"] * 3}
    )
    tuned = make_run(
        tmp_path, "tuned", {"half": ["\\boxed{1/2}"] * 3, "four": ["\\boxed{4}", "x", "\\boxed{3}"]}
    )
    summary = grade_run(base, workers=1)
    assert (summary.graded, summary.correct) == (6, 1)
    assert summary.by_verifier == {"math": {"ok": 5, "no_answer": 1}}
    grades = {(g["task_id"], g["sample_idx"]): g for g in open_run(base).read("grades/math").to_pylist()}
    # The answer column is Math-Verify's normalised string: 0.5 is written \frac{1}{2}.
    assert grades[("half", 0)]["answer"] == "\\frac{1}{2}" and grades[("half", 2)]["status"] == "no_answer"
    assert grade_run(base).graded == 0  # resumable: nothing left
    grade_run(tuned, workers=1)
    result = compare_runs(base, tuned, n_boot=10)
    assert (result["support"]["problem"]["P"], result["support"]["problem"]["E"]) == (1, 1)
    meta = open_run(base).meta()
    assert meta["grading"]["math"]["graded"] == 6 and meta["graders"] == ["math"]


def test_override_and_errors(tmp_path):
    run = make_run(tmp_path, "r", {"half": ["The answer is 1/2"], "four": ["Answer: 4"]})
    assert grade_run(run, "exact").correct == 1
    with pytest.raises(
        LeashError,
        match="unknown verifier 'nope'; choose one of: arith, choice, code, exact, lm-eval, math, regex, rg",
    ):
        grade_run(run, "nope")
    write_jsonl(tmp_path / "bare.jsonl", [{"task_id": "z", "completion": "x"}])
    import_generations(tmp_path / "bare.jsonl", tmp_path / "bare")
    with pytest.raises(LeashError, match="task 'z' names no verifier; pass --verifier"):
        grade_run(tmp_path / "bare")


def test_cli_grade(tmp_path):
    run = make_run(tmp_path, "r", {"half": ["\\boxed{0.5}"], "four": ["\\boxed{4}"]})
    proc = subprocess.run([sys.executable, "-m", "leash", "grade", str(run)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "graded 2 completions" in proc.stderr and "2 correct" in proc.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "leash", "grade", str(run), "-v", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown verifier" in bad.stderr
    assert json.loads((run / "run.json").read_text())["grading"]["math"]["sandbox"].startswith("not needed")


def test_a_regrade_killed_midway_leaves_the_old_verdicts_current_and_resumes(tmp_path, monkeypatch):
    import leash.grading as grading

    run = make_run(
        tmp_path, "r", {"half": ["\\boxed{0.5}", "\\boxed{2/4}", "\\boxed{1/2}"], "four": ["\\boxed{4}"]}
    )
    grade_run(run, timeout=0)
    before = {
        (g["task_id"], g["sample_idx"]): g["status"] for g in open_run(run).read("grades/math").to_pylist()
    }
    # With no time at all every completion times out (each is read by Math-Verify in a worker).
    assert before == {
        ("four", 0): "timeout",
        ("half", 0): "timeout",
        ("half", 1): "timeout",
        ("half", 2): "timeout",
    }

    real = grading.get_verifier
    calls = []

    def crashing(name, **kwargs):
        engine = real(name, **kwargs)
        grade = engine.grade

        def once_then_crash(items):
            calls.append(len(items))
            if len(calls) > 1:
                raise KeyboardInterrupt  # killed after one batch was stored
            return grade(items)

        engine.grade = once_then_crash
        return engine

    monkeypatch.setattr(grading, "get_verifier", crashing)
    with pytest.raises(KeyboardInterrupt):
        grade_run(run, regrade=True, statuses=["timeout"], batch_rows=1, timeout=120)
    monkeypatch.undo()
    stored = open_run(run)
    assert {
        (g["task_id"], g["sample_idx"]): g["status"] for g in stored.read("grades/math").to_pylist()
    } == before
    assert stored.pending_generation("grades/math") == "gen-0001"
    with pytest.raises(LeashError, match="a regrade of grades/math with --status timeout is in progress"):
        grade_run(run, regrade=True)
    finished = grade_run(run, timeout=120)  # the next grade finishes the regrade begun
    assert finished.graded == 3 and "finishing the regrade" in finished.notes[0]
    after = {
        (g["task_id"], g["sample_idx"]): (g["status"], g["correct"])
        for g in stored.read("grades/math").to_pylist()
    }
    assert after == {k: ("ok", True) for k in before}
    assert finished.held == {}
    assert stored.meta()["grading"]["math"]["generation"] == "gen-0001"
