"""Task sources: reasoning-gym, files, the hub (offline here) and the presets."""

import json

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from leash.errors import LeashError
from leash.tasks import Columns, load_tasks, parse_spec, write_task_file
from leash.tasks.presets import MATH_INSTRUCTION, PRESETS


def test_parse_spec():
    assert parse_spec("rg:countdown?size=20&seed=3&min_numbers=3&label=x&flag=true") == (
        "rg",
        "countdown",
        {"size": 20, "seed": 3, "min_numbers": 3, "label": "x", "flag": True},
    )
    assert parse_spec("file:data/t.jsonl") == ("file", "data/t.jsonl", {})
    assert parse_spec("math500") == ("preset", "math500", {})


def test_reasoning_gym_tasks_are_deterministic_and_scorable():
    import reasoning_gym

    tasks = load_tasks("rg:countdown?size=5&seed=7")
    again = load_tasks("rg:countdown?size=5&seed=7")
    assert [t.task_id for t in tasks] == [f"countdown/s7/{i:05d}" for i in range(5)]
    assert tasks == again
    entry = tasks[0].reference["entry"]
    scorer = reasoning_gym.create_dataset("countdown", size=5, seed=7)
    assert scorer.score_answer(entry["answer"], entry) == 1.0
    assert tasks[0].verifier == "rg" and "<answer>" in tasks[0].system
    assert load_tasks("rg:countdown?size=5&seed=7", limit=2) == tasks[:2]


def test_reasoning_gym_errors():
    with pytest.raises(LeashError, match="unknown reasoning-gym dataset 'countdwn'"):
        load_tasks("rg:countdwn")
    with pytest.raises(LeashError, match="rg:countdown: unknown option 'bogus'; options: "):
        load_tasks("rg:countdown?bogus=1")


def test_file_sources_in_three_formats(tmp_path):
    rows = [
        {"qid": "a", "question": "1+1?", "gold": "2", "level": 1},
        {"qid": "b", "question": "2+2?", "gold": "4", "level": 2},
    ]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    pcsv.write_csv(pa.Table.from_pylist(rows), tmp_path / "t.csv")
    cols = Columns(id="qid", prompt="question", answer="gold")
    for name in ("t.jsonl", "t.parquet", "t.csv"):
        tasks = load_tasks(f"file:{tmp_path / name}", cols)
        assert [t.task_id for t in tasks] == ["a", "b"]
        assert tasks[1].question == "2+2?" and tasks[1].reference == {"answer": "4"}
        assert str(tasks[0].meta["level"]) == "1" and tasks[0].dataset == "t"


def test_file_source_errors(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"q": "x"}\n')
    with pytest.raises(LeashError, match=r"no prompt column 'prompt'; columns present: \['q'\]"):
        load_tasks(f"file:{tmp_path / 't.jsonl'}")
    with pytest.raises(LeashError, match="no id column 'id'"):
        load_tasks(f"file:{tmp_path / 't.jsonl'}", Columns(id="id", prompt="q"))
    assert load_tasks(f"file:{tmp_path / 't.jsonl'}", Columns(prompt="q"))[0].task_id == "t/0"
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(LeashError, match="unknown file type"):
        load_tasks(f"file:{tmp_path / 't.txt'}")
    with pytest.raises(LeashError, match="does not exist"):
        load_tasks(f"file:{tmp_path / 'missing.jsonl'}")


def test_unknown_specs_list_the_valid_ones():
    with pytest.raises(
        LeashError, match="presets: math500, aime24, aime25, amc23, minerva, olympiadbench, gsm8k"
    ):
        load_tasks("math5000")
    with pytest.raises(LeashError, match="unknown task source 'xx:' in 'xx:thing'; use one of file:, hf:, "):
        load_tasks("xx:thing")


def test_hub_source_offline_is_one_clear_line():
    with pytest.raises(LeashError, match=r"hf:org/data split 'test': cannot load \(offline"):
        load_tasks("hf:org/data")


@pytest.mark.parametrize(
    ("preset", "row", "question_start", "answer"),
    [
        (
            "math500",
            {"problem": "Find x.", "answer": "\\frac{1}{2}", "unique_id": "test/algebra/1.json"},
            "Find x.",
            "\\frac{1}{2}",
        ),
        ("gsm8k", {"question": "Tom has 3.", "answer": "3 + 1 = 4\n#### 1,004"}, "Tom has 3.", "1004"),
        ("olympiadbench", {"question": "Q?", "final_answer": ["$5$"], "id": 9}, "Q?", "$5$"),
        ("amc23", {"question": "A?", "answer": 12.0, "id": 1}, "A?", "12.0"),
    ],
)
def test_math_presets_map_rows(monkeypatch, preset, row, question_start, answer):
    import datasets

    seen = {}

    def load_dataset(name, config=None, split=None):
        seen.update(name=name, config=config, split=split)
        return datasets.Dataset.from_list([row])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    (task,) = load_tasks(preset)
    assert seen["name"] == PRESETS[preset].hub and seen["split"] == PRESETS[preset].split
    assert task.question.startswith(question_start) and task.question.endswith(MATH_INSTRUCTION)
    assert task.reference == {"answer": answer} and task.verifier == "math" and task.dataset == preset


def test_code_presets_map_rows(monkeypatch):
    import datasets

    rows = {
        "evalplus/humanevalplus": [{"task_id": "HumanEval/0", "prompt": "def f(x):\n", "canonical_solution": "  return x\n",
                                    "test": "def check(candidate):\n    assert candidate(1) == 1\n", "entry_point": "f"}],
        "evalplus/mbppplus": [{"task_id": 2, "prompt": "Write f.", "code": "def f(): return 1", "test_list": ["assert f() == 1"],
                               "test_imports": [], "test": "assert f() == 1"}],
        "livecodebench/code_generation_lite": [{"question_id": "abc", "question_content": "Read n, print n.", "starter_code": "",
                                                "public_test_cases": json.dumps([{"input": "3\n", "output": "3\n", "testtype": "stdin"}]),
                                                "metadata": "{}", "platform": "atcoder", "difficulty": "easy"}],
    }  # fmt: skip
    monkeypatch.setattr(
        datasets, "load_dataset", lambda name, config=None, split=None: datasets.Dataset.from_list(rows[name])
    )
    (he,) = load_tasks("humaneval_plus")
    assert (
        he.reference["entry_point"] == "f"
        and "check(candidate)" in he.reference["test"]
        and he.verifier == "code"
    )
    (mb,) = load_tasks("mbpp_plus")
    assert mb.reference["tests"] == ["assert f() == 1"] and "assert f() == 1" in mb.question
    (lcb,) = load_tasks("livecodebench")
    assert lcb.reference == {"io": [{"input": "3\n", "output": "3\n"}]}


def test_write_task_file_round_trips(tmp_path):
    tasks = load_tasks("rg:leg_counting?size=3&seed=1")
    path = write_task_file(tasks, tmp_path / "out.jsonl")
    assert load_tasks(f"file:{path}") == tasks
