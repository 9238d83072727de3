"""Task files in HumanEval's and MBPP's published layouts, through `--tasks` and `file:`."""

import json

import pytest

from leash.errors import LeashError
from leash.grading import GradeItem, get_verifier
from leash.tasks import load_tasks, read_task_file

HUMANEVAL_LINE = {
    "task_id": "HumanEval/0",
    "prompt": 'def inc(x):\n    """Add one."""\n',
    "canonical_solution": "    return x + 1\n",
    "test": "def check(candidate):\n    assert candidate(1) == 2\n",
    "entry_point": "inc",
}
MBPP_LINE = {  # google-research/mbpp's mbpp.jsonl
    "task_id": 2,
    "text": "Write a function to add two numbers.",
    "code": "def add(a, b):\n    return a + b",
    "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
    "test_setup_code": "",
    "challenge_test_list": [],
}
MBPP_SANITIZED_LINE = {
    "source_file": "x",
    "task_id": 3,
    "prompt": "Write a function to add two numbers.",
    "code": "import math\ndef add(a, b):\n    return a + b",
    "test_imports": ["import math"],
    "test_list": ["assert add(1, 2) == math.floor(3.5)"],
}


def write(tmp_path, *lines):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_published_layouts_become_references(tmp_path):
    rows = read_task_file(write(tmp_path, HUMANEVAL_LINE, MBPP_LINE, MBPP_SANITIZED_LINE)).to_pylist()
    he, mbpp, sanitized = rows
    assert json.loads(he["reference"]) == {k: HUMANEVAL_LINE[k] for k in ("test", "entry_point", "prompt")}
    assert he["verifier"] == "code" and "canonical_solution" in json.loads(he["meta"])
    assert json.loads(mbpp["reference"]) == {"tests": MBPP_LINE["test_list"], "imports": []}
    assert mbpp["prompt"] == MBPP_LINE["text"] and mbpp["verifier"] == "code"
    assert json.loads(sanitized["reference"])["imports"] == ["import math"]
    # The references grade: each line's own solution passes.
    verifier = get_verifier("code", workers=1, timeout=5.0)
    try:
        items = [
            GradeItem(r["task_id"], f"```python\n{code}\n```", json.loads(r["reference"]))
            for r, code in zip(
                rows,
                [HUMANEVAL_LINE["canonical_solution"], MBPP_LINE["code"], MBPP_SANITIZED_LINE["code"]],
                strict=True,
            )
        ]
        assert [v.correct for v in verifier.grade(items)] == [True, True, True]
    finally:
        verifier.close()


def test_the_file_source_reads_the_same_layouts(tmp_path):
    he, sanitized = load_tasks(f"file:{write(tmp_path, HUMANEVAL_LINE, MBPP_SANITIZED_LINE)}")
    assert he.reference["entry_point"] == "inc" and he.verifier == "code" and "test" not in he.meta
    assert sanitized.reference["tests"] == MBPP_SANITIZED_LINE["test_list"]


@pytest.mark.parametrize(
    "line, message",
    [
        ({"task_id": "a", "prompt": "p", "test": "def check(candidate): pass"}, "'entry_point' missing"),
        ({"task_id": "a", "entry_point": "f"}, "'test' missing"),
        ({**HUMANEVAL_LINE, "reference": {"answer": "1"}}, "and a 'reference' both given"),
        ({"task_id": "a", "test_list": "assert f() == 1"}, "must be a list of assert statements"),
    ],
)
def test_half_a_layout_is_refused_in_one_line(tmp_path, line, message):
    with pytest.raises(LeashError, match=message) as err:
        read_task_file(write(tmp_path, line))
    assert "tasks.jsonl:1" in str(err.value) and "\n" not in str(err.value)
