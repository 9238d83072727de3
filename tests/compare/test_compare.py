"""`compare_runs` end to end on imported JSONL runs, checked against independent counts."""

import json
import math
from fractions import Fraction
from math import comb

import pyarrow as pa
import pytest

from leash.compare import compare_runs, k_grid, write_comparison
from leash.errors import LeashError
from leash.importers import import_generations
from leash.store import open_run
from tests.conftest import generations

# 5 problems x 4 samples. Answers ending in '*' are correct.
BASE = {
    "a": ["1*", "1*", "2", "3"],  # both solve: P
    "b": ["7*", "8*", "9", "9"],  # two distinct correct answers in base, one kept by tuned
    "c": ["5*", "6", "6", "6"],  # base only: S
    "d": ["0", "0", None, "1"],  # tuned only: E
    "e": ["x", "y", "z", None],  # neither: O
}
TUNED = {
    "a": ["1*", "1*", "1*", "1*"],
    "b": ["7*", "7*", "7*", "9"],
    "c": ["6", "6", "6", "6"],
    "d": ["4*", "0", "0", "0"],
    "e": ["x", "x", "x", "x"],
}


@pytest.fixture
def runs(tmp_path, write):
    import_generations(write("base.jsonl", generations(BASE, "toy")), tmp_path / "base", model="base")
    import_generations(write("tuned.jsonl", generations(TUNED, "toy")), tmp_path / "tuned", model="tuned")
    return tmp_path / "base", tmp_path / "tuned"


def exact(n, c, k):
    return float(1 - Fraction(comb(n - c, k), comb(n, k)))


def entropy(answers):
    counts = {}
    for a in answers:
        key = "NA" if a is None else a.rstrip("*")
        counts[key] = counts.get(key, 0) + 1
    return -sum(m / len(answers) * math.log(m / len(answers)) for m in counts.values())


def test_contract_and_numbers(runs):
    result = compare_runs(*runs, n_boot=200)
    for key in ("runs", "n", "pass_at_k", "se_gap", "support", "answer_entropy", "by_dataset", "problems"):
        assert key in result
    assert result["n"] == {"base": 4, "tuned": 4}
    assert result["runs"]["base"]["model"] == "base"

    cb = {t: sum(a is not None and a.endswith("*") for a in v) for t, v in BASE.items()}
    ct = {t: sum(a is not None and a.endswith("*") for a in v) for t, v in TUNED.items()}
    curve = result["pass_at_k"]
    assert curve["k"] == [1, 2, 4]
    for j, k in enumerate(curve["k"]):
        assert curve["base"][j] == pytest.approx(sum(exact(4, c, k) for c in cb.values()) / 5, abs=1e-12)
        assert curve["tuned"][j] == pytest.approx(sum(exact(4, c, k) for c in ct.values()) / 5, abs=1e-12)
        lo, hi = curve["base_band"][j]
        assert lo <= curve["base"][j] <= hi

    se = result["se_gap"]
    assert se["k_max"] == 4
    assert se["base"] == pytest.approx(curve["base"][2] - curve["base"][0])
    assert se["delta_se"] == pytest.approx(curve["base"][2] - curve["tuned"][0])

    problem = result["support"]["problem"]
    assert (problem["P"], problem["S"], problem["E"], problem["O"]) == (2, 1, 1, 1)
    assert problem["SRR"] == pytest.approx(2 / 3) and problem["NSCR"] == pytest.approx(0.0)
    assert problem["epsilon"] == pytest.approx(-math.log(0.05) / 4)

    # Answer grain units: a/1 (P), b/7 (P), b/8 (S), c/5 (S), d/4 (E).
    answer = result["support"]["answer"]
    assert (answer["P"], answer["S"], answer["E"], answer["O"]) == (2, 2, 1, 0)

    assert result["answer_entropy"]["base"] == pytest.approx(sum(entropy(v) for v in BASE.values()) / 5)
    assert result["answer_entropy"]["tuned"] == pytest.approx(sum(entropy(v) for v in TUNED.values()) / 5)

    regions = {p["task_id"]: p["region"] for p in result["problems"]}
    assert regions == {"a": "P", "b": "P", "c": "S", "d": "E", "e": "O"}
    row = next(p for p in result["problems"] if p["task_id"] == "b")
    assert (row["n_base"], row["c_base"], row["n_tuned"], row["c_tuned"]) == (4, 2, 4, 3)
    assert set(result["by_dataset"]) == {"toy"}
    assert result["by_dataset"]["toy"]["support"]["problem"]["P"] == 2


def test_budget_below_n_gives_expected_regions(runs):
    result = compare_runs(*runs, k=2, n_boot=50)
    s = result["support"]["problem"]
    # Per problem: base and tuned cover with pass@2; regions multiply, then sum.
    expected = [0.0, 0.0, 0.0, 0.0]
    for t in BASE:
        b = exact(4, sum(a is not None and a.endswith("*") for a in BASE[t]), 2)
        u = exact(4, sum(a is not None and a.endswith("*") for a in TUNED[t]), 2)
        for i, p in enumerate([b * u, b * (1 - u), (1 - b) * u, (1 - b) * (1 - u)]):
            expected[i] += p
    assert [s["P"], s["S"], s["E"], s["O"]] == pytest.approx(expected, abs=1e-12)
    assert s["k"] == 2 and s["epsilon"] == pytest.approx(-math.log(0.05) / 2)


def test_k_above_n_and_different_task_sets(tmp_path, runs, write):
    with pytest.raises(LeashError, match=r"--k 5 exceeds n: task 'a' has 4 samples .* use --k <= 4"):
        compare_runs(*runs, k=5)
    import_generations(write("more.jsonl", generations({**TUNED, "z": ["1"]})), tmp_path / "more")
    with pytest.raises(LeashError, match=r"1 only in tuned \(z\); pass --intersect to compare the 5 shared"):
        compare_runs(runs[0], tmp_path / "more")
    result = compare_runs(runs[0], tmp_path / "more", intersect=True, n_boot=20)
    assert result["tasks"]["compared"] == 5


def test_runs_with_different_n_and_missing_k(tmp_path, runs, write):
    longer = {t: v + v for t, v in TUNED.items()}
    import_generations(write("long.jsonl", generations(longer)), tmp_path / "long")
    result = compare_runs(runs[0], tmp_path / "long", n_boot=20)
    assert result["n"] == {"base": 4, "tuned": 8}
    assert result["pass_at_k"]["k"] == [1, 2, 4, 8]
    assert result["pass_at_k"]["base"][3] is None  # base has no k = 8: missing, not extrapolated
    assert result["pass_at_k"]["tuned"][3] is not None
    assert result["se_gap"]["k_max"] == 4


def test_labels_override_verdicts(runs):
    base, tuned = runs
    before = compare_runs(base, tuned, n_boot=10)
    run = open_run(tuned)
    run.write_labels(
        pa.table({"task_id": ["d", "d"], "sample_idx": [0, 0], "label": ["correct", "hack"],
                  "note": [None, "guessed"], "created": ["2026-01-01T00:00:00", "2026-01-02T00:00:00"]})
    )  # fmt: skip
    after = compare_runs(base, tuned, n_boot=10)
    assert before["support"]["problem"]["E"] == 1
    assert after["support"]["problem"]["E"] == 0 and after["support"]["problem"]["O"] == 2
    assert after["runs"]["tuned"]["labels_applied"] == 1


def test_ungraded_runs_and_graders(tmp_path, runs, write):
    import_generations(write("raw.jsonl", [{"task_id": "a", "completion": "x"}]), tmp_path / "raw")
    with pytest.raises(LeashError, match="has no grades; grade it first with `leash grade"):
        compare_runs(runs[0], tmp_path / "raw")
    with pytest.raises(LeashError, match="has no grades from 'math'; graders present: \\['imported'\\]"):
        compare_runs(*runs, grader="math")


def test_significance_lists_and_written_files(tmp_path, write):
    many_b = {f"t{i}": ["1*"] * 40 + ["0"] * 10 for i in range(3)} | {"flat": ["1*"] * 25 + ["0"] * 25}
    many_t = {f"t{i}": ["1*"] * 5 + ["0"] * 45 for i in range(3)} | {"flat": ["1*"] * 25 + ["0"] * 25}
    import_generations(write("b.jsonl", generations(many_b)), tmp_path / "b")
    import_generations(write("t.jsonl", generations(many_t)), tmp_path / "t")
    result = compare_runs(tmp_path / "b", tmp_path / "t", n_boot=20)
    assert result["significance"]["shrinkage"] == ["t0", "t1", "t2"]
    assert result["significance"]["expansion"] == []
    flat = next(p for p in result["problems"] if p["task_id"] == "flat")
    assert flat["p_value"] == pytest.approx(1.0)
    json_path, md_path = write_comparison(result, tmp_path / "out")
    assert json.loads(json_path.read_text()) == result
    text = md_path.read_text()
    assert (
        "| pass@1 | 0.7250 | 0.2000 |" in text
    )  # (3 x 40/50 + 25/50) / 4, (3 x 5/50 + 25/50) / 4 and "shrinkage (3)" in text


def test_k_grid():
    assert k_grid(16) == [1, 2, 4, 8, 16]
    assert k_grid(12) == [1, 2, 4, 8, 12]
    assert k_grid(3, "all") == [1, 2, 3]
    assert k_grid(99, "4,1,4") == [1, 4]
    with pytest.raises(LeashError):
        k_grid(8, "x")
