"""`leash demo --out`: it deletes nothing it did not make, and its help agrees with the README."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leash.cli.demo_cmd import MARKER, STUDY_ENTRIES, prepare_out
from leash.errors import LeashError

ROOT = Path(__file__).resolve().parents[2]


def demo(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "leash", "demo", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=300,
    )  # fmt: skip


def refused(proc, fragment):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return (
        proc.returncode == 2
        and len(lines) == 1
        and lines[0].startswith("leash: error: ")
        and fragment in lines[0]
    )


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def user_files(root: Path) -> dict[str, bytes]:
    (root / "notes").mkdir(parents=True)
    (root / "thesis.tex").write_text("three years of work")
    (root / "notes" / "todo.txt").write_text("back up thesis")
    return tree(root)


def test_example_into_an_empty_directory(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    proc = demo("--example", "--out", out)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "compare" / "compare.json").read_text())
    assert result["n"] == {"base": 128, "tuned": 128}
    assert json.loads((out / MARKER).read_text())["entries"] == ["base", "compare", "tuned"]


def test_a_users_directory_is_refused_and_left_intact(tmp_path):
    out = tmp_path / "myruns"
    before = user_files(out)
    proc = demo("--example", "--out", out)
    assert refused(proc, "is not empty and not a leash demo output"), proc.stderr
    assert "choose another --out or empty it" in proc.stderr
    assert tree(out) == before and not (out / MARKER).exists()


@pytest.mark.parametrize("where", [".", ".."])
def test_the_current_directory_and_its_parent_are_refused(tmp_path, where):
    cwd = tmp_path / "project"
    before = user_files(cwd)
    proc = demo("--example", "--out", where, cwd=cwd)
    assert refused(proc, "not a leash demo output"), proc.stderr
    assert tree(cwd) == before and sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_a_previous_demo_output_is_replaced_and_nothing_else(tmp_path):
    out = tmp_path / "demo"
    assert demo("--example", "--out", out).returncode == 0
    stale = out / "compare" / "stale.txt"  # inside what the demo made: goes with it
    stale.write_text("old")
    (out / "mine.txt").write_text("a user's file beside the demo's output")
    proc = demo("--example", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and (out / "compare" / "compare.json").exists()
    assert (out / "mine.txt").read_text() == "a user's file beside the demo's output"


def test_keep_adds_to_the_mark_and_deletes_nothing(tmp_path):
    out = tmp_path / "demo"
    assert demo("--example", "--out", out).returncode == 0
    kept = out / "compare" / "kept.txt"
    kept.write_text("stays")
    prepare_out(out, STUDY_ENTRIES, fresh=False)
    assert kept.read_text() == "stays"
    listed = json.loads((out / MARKER).read_text())["entries"]
    assert listed == ["base", "compare", "models", "report", "runs", "study.json", "tuned"]


def test_fresh_unlinks_a_link_and_never_follows_it(tmp_path):
    outside = tmp_path / "precious"
    before = user_files(outside)
    out = tmp_path / "demo"
    prepare_out(out, STUDY_ENTRIES, fresh=True)
    (out / "models").symlink_to(outside, target_is_directory=True)
    prepare_out(out, STUDY_ENTRIES, fresh=True)
    assert not (out / "models").exists() and tree(outside) == before


def test_a_folder_the_demo_would_write_into_but_did_not_make_is_refused(tmp_path):
    out = tmp_path / "demo"
    assert demo("--example", "--out", out).returncode == 0  # marked: base, compare, tuned
    (out / "models").mkdir()
    (out / "models" / "mine.bin").write_text("a user's model")
    with pytest.raises(LeashError, match="'models' there was not made by leash demo"):
        prepare_out(out, STUDY_ENTRIES, fresh=True)
    assert (out / "models" / "mine.bin").exists() and (out / "base").exists()  # refused before deleting


def test_a_file_as_out_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(LeashError, match="is a file"):
        prepare_out(tmp_path / "f", STUDY_ENTRIES, fresh=True)
    assert (tmp_path / "f").read_text() == "x"


def test_a_mark_cannot_name_what_the_demo_never_makes(tmp_path):
    out = tmp_path / "demo"
    before = user_files(out)
    (out / MARKER).write_text(json.dumps({"entries": ["notes", "thesis.tex", "..", "/"]}))
    prepare_out(out, STUDY_ENTRIES, fresh=True)
    assert {k: v for k, v in tree(out).items() if k != MARKER} == before


def _minutes(text: str, pattern: str) -> set[int]:
    return {int(m) for m in re.findall(pattern, text)}


def test_the_demo_help_states_the_readme_and_lab_page_timing():
    proc = demo("--help")
    assert proc.returncode == 0
    help_minutes = _minutes(" ".join(proc.stdout.split()), r"about (\d+) minutes")
    readme = (ROOT / "README.md").read_text()
    readme_minutes = _minutes(readme, r"~(\d+) min") | _minutes(readme, r"about (\d+) minutes")
    lab_line = next(
        line for line in (ROOT / "docs" / "lab.md").read_text().splitlines() if "leash demo [" in line
    )
    assert len(help_minutes) == 1 and help_minutes == readme_minutes == _minutes(lab_line, r"~(\d+) minutes")
