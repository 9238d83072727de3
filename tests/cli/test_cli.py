"""The `leash` command as a user runs it: exit codes, one-line errors, help texts."""

import json
import subprocess
import sys

import pytest

from tests.conftest import generations, write_jsonl


def leash(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "leash", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def assert_one_line_error(proc, fragment):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("leash: error: ") and fragment in lines[0]


def test_import_and_compare_to_stdout(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", generations({"q": ["1*", "2"], "r": ["0", "0"]}))
    write_jsonl(tmp_path / "t.jsonl", generations({"q": ["1*", "1*"], "r": ["0", "5*"]}))
    first = leash("import", tmp_path / "b.jsonl", "--run", tmp_path / "base", "--model", "B")
    assert first.returncode == 0, first.stderr
    assert "imported 4 samples, 4 graded for 2 tasks" in first.stderr
    assert leash("import", tmp_path / "t.jsonl", "--run", tmp_path / "tuned").returncode == 0
    out = leash("compare", tmp_path / "base", tmp_path / "tuned", "--json", "-")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["support"]["problem"]["E"] == 1
    written = leash("compare", tmp_path / "base", tmp_path / "tuned", "--out", tmp_path / "cmp")
    assert written.returncode == 0 and (tmp_path / "cmp" / "compare.md").exists()
    assert "SRR" in written.stdout


@pytest.mark.parametrize(
    ("content", "args", "fragment"),
    [
        ('{"task_id": "a", "completion": "x"}\n{"task_id": \n', [], "gen.jsonl:2: invalid JSON"),
        ('{"task_id": "a"}\n', [], "gen.jsonl:1: missing field 'completion'"),
        ("", [], "is empty"),
        ('{"task_id": "a", "completion": "x"}\n', ["--format", "csv"], "unknown format 'csv'"),
    ],
)
def test_import_bad_input(tmp_path, content, args, fragment):
    (tmp_path / "gen.jsonl").write_text(content)
    proc = leash("import", tmp_path / "gen.jsonl", "--run", tmp_path / "run", *args)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "run").exists()


def test_compare_bad_input(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", generations({"q": ["1*", "2"]}))
    write_jsonl(tmp_path / "t.jsonl", generations({"z": ["1*", "2"]}))
    leash("import", tmp_path / "b.jsonl", "--run", tmp_path / "base")
    leash("import", tmp_path / "t.jsonl", "--run", tmp_path / "tuned")
    assert_one_line_error(leash("compare", tmp_path / "base", tmp_path / "nope", "--out", tmp_path / "o"),
                          "does not exist")  # fmt: skip
    assert_one_line_error(leash("compare", tmp_path / "base", tmp_path / "tuned", "--out", tmp_path / "o"),
                          "the runs differ in tasks")  # fmt: skip
    assert_one_line_error(
        leash("compare", tmp_path / "base", tmp_path / "base", "--k", "3", "--out", tmp_path / "o"),
        "--k 3 exceeds n",
    )
    assert_one_line_error(leash("compare", tmp_path / "base", tmp_path / "base"), "nowhere to write")
    assert not (tmp_path / "o").exists()


def test_demo_runs_end_to_end(tmp_path):
    proc = leash("demo", "--example", "--out", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "demo" / "compare" / "compare.json").read_text())
    assert result["n"] == {"base": 128, "tuned": 128}
    assert result["tasks"]["compared"] == 64
    assert "wrote" in proc.stdout


@pytest.mark.parametrize("command", [[], ["tasks"], ["sample"], ["import"], ["compare"], ["demo"]])
def test_help_texts(command):
    proc = leash(*command, "--help")
    assert proc.returncode == 0
    assert "Usage" in proc.stdout


def test_version():
    proc = leash("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("leash ")
