"""`leash import --format jsonl` and `--tasks`: good files, re-imports, bad input."""

import json

import pytest

from leash.errors import LeashError
from leash.importers import import_generations
from leash.store import open_run
from tests.conftest import generations


def test_import_numbers_samples_per_task_and_stores_grades(tmp_path, write):
    src = write("gen.jsonl", generations({"q1": ["4*", "5", None], "q2": ["x*"]}, dataset="toy"))
    summary = import_generations(src, tmp_path / "run", model="m")
    assert (summary.samples_added, summary.grades_added, summary.tasks) == (4, 4, 2)
    run = open_run(tmp_path / "run")
    samples = sorted(run.read("samples").to_pylist(), key=lambda r: (r["task_id"], r["sample_idx"]))
    assert [(r["task_id"], r["sample_idx"]) for r in samples] == [("q1", 0), ("q1", 1), ("q1", 2), ("q2", 0)]
    grades = {(g["task_id"], g["sample_idx"]): g for g in run.read("grades/imported").to_pylist()}
    assert grades[("q1", 0)]["correct"] is True and grades[("q1", 0)]["answer"] == "4"
    assert grades[("q1", 2)]["status"] == "no_answer" and grades[("q1", 2)]["answer"] is None
    tasks = {t["task_id"]: t for t in run.read_tasks().to_pylist()}
    assert tasks["q1"]["dataset"] == "toy"
    meta = run.meta()
    assert meta["model"] == "m" and meta["source"]["format"] == "jsonl"
    assert meta["counts"] == {"tasks": 2, "samples": 4}


def test_reimport_adds_nothing_and_other_files_are_refused(tmp_path, write):
    src = write("gen.jsonl", generations({"q1": ["4*", "5"]}))
    import_generations(src, tmp_path / "run")
    again = import_generations(src, tmp_path / "run")
    assert (again.samples_added, again.grades_added, again.samples_total) == (0, 0, 2)
    other = write("other.jsonl", generations({"q1": ["4*"]}))
    with pytest.raises(LeashError, match="already holds samples"):
        import_generations(other, tmp_path / "run")


def test_ungraded_rows_import_without_grades(tmp_path, write):
    src = write("gen.jsonl", [{"task_id": 7, "completion": "hi"}, {"task_id": 7, "completion": "yo"}])
    summary = import_generations(src, tmp_path / "run")
    assert (summary.samples_added, summary.grades_added) == (2, 0)
    assert open_run(tmp_path / "run").names("grades") == []


def test_explicit_sample_idx_is_kept(tmp_path, write):
    rows = [{"task_id": "a", "completion": "x", "sample_idx": 5}, {"task_id": "a", "completion": "y"}]
    import_generations(write("g.jsonl", rows), tmp_path / "run")
    keys = open_run(tmp_path / "run").keys("samples")
    assert keys["a"].tolist() == [5, 6]


def test_tasks_file_attaches_definitions(tmp_path, write):
    src = write("gen.jsonl", generations({"q1": ["4*"], "q2": ["1"]}))
    tasks = write(
        "tasks.jsonl",
        [
            {"task_id": "q1", "prompt": "2+2?", "answer": "4", "verifier": "math", "dataset": "arith"},
            {"task_id": "q2", "prompt": "f?", "reference": {"tests": ["assert f() == 1"]}, "verifier": "code",
             "difficulty": 3},
            {"task_id": "q3", "prompt": "unused"},
        ],
    )  # fmt: skip
    import_generations(src, tmp_path / "run", tasks_file=tasks)
    stored = {t["task_id"]: t for t in open_run(tmp_path / "run").read_tasks().to_pylist()}
    assert set(stored) == {"q1", "q2", "q3"}
    assert json.loads(stored["q1"]["reference"]) == {"answer": "4"}
    assert stored["q1"]["verifier"] == "math" and stored["q1"]["prompt"] == "2+2?"
    assert json.loads(stored["q2"]["reference"]) == {"tests": ["assert f() == 1"]}
    assert json.loads(stored["q2"]["meta"]) == {"difficulty": 3}


BAD = [
    ('{"task_id": "a", "completion": "x"}\n{"task_id": "a", "completion": }\n', r"gen.jsonl:2: invalid JSON"),
    ('{"task_id": "a"}\n', r"gen.jsonl:1: missing field 'completion'"),
    ('{"completion": "x"}\n', r"gen.jsonl:1: missing field 'task_id'"),
    ('{"doc_id": 0, "resps": [["x"]]}\n', r"pass --format lm-eval"),
    ('{"task_id": "a", "completion": "x", "correct": true}\n{"task_id": "a", "completion": "y"}\n',
     r"gen.jsonl:2: 'correct' is missing here"),
    ('{"task_id": "a", "completion": "x", "correct": "yes"}\n', r"'correct' must be true/false or 0/1"),
    ('{"task_id": "a", "completion": 5}\n', r"'completion' must be a string"),
    ('[1, 2]\n', r"expected a JSON object"),
    ('{"task_id": "a", "completion": "x", "dataset": "d1"}\n'
     '{"task_id": "a", "completion": "y", "dataset": "d2"}\n',
     r"has dataset 'd2' here but 'd1' before"),
    ('{"task_id": "a", "completion": "x", "sample_idx": 0}\n'
     '{"task_id": "a", "completion": "x", "sample_idx": 0}\n',
     r"duplicate sample_idx 0"),
    ("\n\n", r"no completions found"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, text, message):
    src = tmp_path / "gen.jsonl"
    src.write_text(text)
    with pytest.raises(LeashError, match=message):
        import_generations(src, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_input_leaves_an_existing_run_untouched(tmp_path, write):
    src = write("gen.jsonl", generations({"q1": ["4*"]}))
    import_generations(src, tmp_path / "run")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "run").rglob("*"))
    src.write_text(src.read_text() + "{broken\n")
    with pytest.raises(LeashError, match=r"gen.jsonl:2: invalid JSON"):
        import_generations(src, tmp_path / "run")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "run").rglob("*")) == before


def test_empty_and_missing_files_unknown_format_and_unknown_tasks(tmp_path, write):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(LeashError, match="is empty"):
        import_generations(tmp_path / "empty.jsonl", tmp_path / "run")
    with pytest.raises(LeashError, match="does not exist"):
        import_generations(tmp_path / "nope.jsonl", tmp_path / "run")
    src = write("gen.jsonl", generations({"q1": ["4*"], "q9": ["1"]}))
    with pytest.raises(
        LeashError, match="unknown format 'csv'; choose one of: inspect, jsonl, lighteval, lm-eval"
    ):
        import_generations(src, tmp_path / "run", "csv")
    tasks = write("tasks.jsonl", [{"task_id": "q1"}])
    with pytest.raises(LeashError, match="1 task ids of the generations are not in --tasks"):
        import_generations(src, tmp_path / "run", tasks_file=tasks)
    dup = write("dup.jsonl", [{"task_id": "q1"}, {"task_id": "q1"}])
    with pytest.raises(LeashError, match=r"dup.jsonl:2: duplicate task_id 'q1' \(first on line 1\)"):
        import_generations(src, tmp_path / "run", tasks_file=dup)
    assert not (tmp_path / "run").exists()


def test_gzip_and_invalid_utf8(tmp_path):
    import gzip

    gz = tmp_path / "gen.jsonl.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write(json.dumps({"task_id": "a", "completion": "x", "correct": 1}) + "\n")
    assert import_generations(gz, tmp_path / "run").grades_added == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"task_id": "a", "completion": "\xff"}\n')
    with pytest.raises(LeashError, match="not UTF-8"):
        import_generations(bad, tmp_path / "run2")
