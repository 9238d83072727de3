"""The study end to end at toy size (`leash demo --quick`), its determinism, and the script that
writes docs/lab.md from it. One quick study is shared by every test here; the determinism test
runs a second one (the two together are this suite's end-to-end cost)."""

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from fractions import Fraction
from math import comb
from pathlib import Path

import pytest

from leash.store import open_run

ROOT = Path(__file__).resolve().parents[2]


def quick_study(out: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "leash", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[report] done" in proc.stdout
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return quick_study(tmp_path_factory.mktemp("study") / "demo")


def lab_doc():
    spec = importlib.util.spec_from_file_location("lab_doc", ROOT / "scripts" / "lab_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def comparisons(study: Path) -> dict[str, dict]:
    """Every compare*.json of the report without its `runs` block (paths and clock times)."""
    out = {}
    for path in sorted((study / "report").glob("compare*.json")):
        result = json.loads(path.read_text())
        result.pop("runs")
        out[path.name] = result
    return out


def test_the_study_end_to_end_at_toy_size(study):
    report = study / "report"
    result = json.loads((report / "compare-1.json").read_text())
    assert result["runs"]["tuned"]["model"].endswith("grpo") and result["n"] == {"base": 16, "tuned": 16}
    perplexity = json.loads((report / "compare-3.json").read_text())["perplexity"]["tuned"]
    assert set(perplexity) == {"base"}
    assert (report / "report.html").exists()
    record = json.loads((study / "study.json").read_text())
    assert record["models"] == ["base", "grpo", "dapo", "distilled"] and record["config"]["n"] == 16
    assert set(record["seconds"]) >= {"pretrain base", "distill", "sample distilled", "report"}
    revisions = {
        json.loads((study / "runs" / m / "run.json").read_text())["git_revision"] for m in record["models"]
    }
    assert revisions == {record["git_revision"]}
    assert json.loads((study / ".leash-demo").read_text())["entries"] == [
        "models",
        "report",
        "runs",
        "study.json",
    ]


def same_numbers(a, b, where="") -> None:
    """Equal, floats to 1e-12 relative: compare's DuckDB `avg` over a multi-threaded join may add
    identical inputs in another order (seen: 3.3513921788604106 vs 3.35139217886041)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            same_numbers(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_numbers(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), where
    else:
        assert a == b, where


def rows(run: Path, table: str, columns: list[str]) -> list[tuple]:
    return sorted(tuple(r.values()) for r in open_run(run).read(table, columns).to_pylist())


def test_the_quick_study_is_deterministic(study, tmp_path):
    again = quick_study(tmp_path / "again")
    for model in ("base", "teacher", "grpo", "dapo", "distilled"):
        weights = [hashlib.sha256((s / "models" / model / "model.safetensors").read_bytes()).digest()
                   for s in (study, again)]  # fmt: skip
        assert weights[0] == weights[1], model
    for run in ("base", "grpo", "dapo", "distilled"):  # the data itself: bit for bit
        for table, columns in (
            ("samples", ["task_id", "sample_idx", "seed", "text"]),
            ("grades/arith", ["task_id", "sample_idx", "correct", "answer"]),
            ("scores/base", ["task_id", "sample_idx", "logprob_sum", "token_entropy_mean"]),
        ):
            assert rows(study / "runs" / run, table, columns) == rows(again / "runs" / run, table, columns)
    assert len(comparisons(study)) == 3
    same_numbers(comparisons(study), comparisons(again))


def exact_pass_at_k(run: Path, k: int) -> float:
    """Mean over problems of 1 - C(n-c, k)/C(n, k), in exact fractions from the run's grades."""
    grades = open_run(run).read("grades/arith", ["task_id", "correct"]).to_pylist()
    per_task: dict[str, list[bool]] = {}
    for row in grades:
        per_task.setdefault(row["task_id"], []).append(bool(row["correct"]))
    values = [1 - Fraction(comb(len(v) - sum(v), k), comb(len(v), k)) for v in per_task.values()]
    return float(sum(values) / len(values))


def table(page: str, first_header: str) -> dict[str, list[str]]:
    """The Markdown table whose header starts with `first_header`: {row name: cells}."""
    lines = page[page.index(f"| {first_header} |") :].splitlines()
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_lab_doc_rewrites_the_block_from_the_study(study, tmp_path):
    page = tmp_path / "lab.md"
    original = (ROOT / "docs" / "lab.md").read_text()
    page.write_text(original)
    doc = lab_doc()
    made_at = doc.rewrite_page(page, study, allow_dirty=True)
    text = page.read_text()
    commit = json.loads((study / "study.json").read_text())["git_revision"]
    assert f"at commit `{commit[:12]}`" in made_at and made_at in text
    # The prose outside the block is kept as written, and only one block remains.
    before, after = original.split(doc.BEGIN)[0], original.split(doc.END)[1]
    assert text.startswith(before) and text.endswith(after) and text.count(doc.BEGIN) == 1
    assert "Stale" not in text and "toy size: n = 16" in text
    # pass@k in the table against an exact computation from the runs' grades.
    rows = table(text, "k")
    ks = [int(k.replace(",", "")) for k in rows["k"]]
    assert ks == [1, 4, 16]
    for name, run in (("base", "base"), ("GRPO", "grpo"), ("DAPO", "dapo"), ("distilled", "distilled")):
        for k, cell in zip(ks, rows[name], strict=True):
            assert abs(float(cell) - exact_pass_at_k(study / "runs" / run, k)) <= 0.0005 + 1e-12, (name, k)
    # Support counts: the compare.json's, and P+S+E+O is every problem.
    support = table(text, "vs base")
    for i, name in enumerate(("GRPO", "DAPO", "distilled"), start=1):
        block = json.loads((study / "report" / f"compare-{i}.json").read_text())["support"]["problem"]
        counts = [int(c) for c in support[name][1:5]]
        assert counts == [int(block[x]) for x in "PSEO"] and sum(counts) == 8
    for figure in ("pass_at_k", "regions"):
        assert (tmp_path / f"lab_{figure}.png").read_bytes() == (
            study / "report" / f"{figure}.png"
        ).read_bytes()
    assert re.search(r"- \*\*RL pass@1 above the base's\*\*: (yes|no|partly) — ", text)


def test_lab_doc_refuses_a_study_with_uncommitted_changes(study, tmp_path):
    doc = lab_doc()
    record = json.loads((study / "study.json").read_text())
    with pytest.raises(doc.DocError, match="uncommitted changes"):
        doc.stamp({**record, "git_dirty": True}, allow_dirty=False)
    assert (
        doc.stamp({**record, "git_dirty": False}, allow_dirty=False)
        == f"at commit `{record['git_revision'][:12]}`"
    )
    page = tmp_path / "lab.md"
    page.write_text("no markers here\n")
    with pytest.raises(doc.DocError, match="no `<!-- lab_doc:begin"):
        doc.rewrite_page(page, study, allow_dirty=True)
    assert page.read_text() == "no markers here\n"


def test_the_real_page_names_a_commit_of_this_history():
    commit = lab_doc().stamped_commit(ROOT / "docs" / "lab.md")
    assert commit is not None, "docs/lab.md names no commit: run python scripts/lab_doc.py"
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=ROOT, capture_output=True
    )
    assert proc.returncode == 0, f"docs/lab.md names {commit}, which is not in this branch's history"
