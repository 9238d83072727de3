"""`compare_series` on hand-made runs of one "training", checked against brute-force counts."""

import json
import math
from fractions import Fraction
from itertools import combinations

import pytest
from typer.testing import CliRunner

from leash.cli import app
from leash.compare.series import compare_series, cover_at, render_series_markdown
from leash.errors import LeashError
from leash.importers import import_generations
from tests.cli.test_cli import assert_one_line_error
from tests.compare.test_compare import BASE, TUNED, entropy
from tests.conftest import generations

# A checkpoint between BASE and TUNED (5 problems x 4 samples; '*' marks a correct answer).
MIDDLE = {
    "a": ["1*", "2", "1*", "3"],
    "b": ["7*", "9", "9", "9"],
    "c": ["6", "6", "5*", "6"],
    "d": ["0", "0", "0", "0"],
    "e": ["x", "x", "y", None],
}
STEPS = [(BASE, "models/base"), (MIDDLE, "models/grpo/step-000010"), (TUNED, "models/grpo/step-000020")]


@pytest.fixture(scope="module")
def series_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    paths = []
    for i, (outcomes, model) in enumerate(STEPS):
        source = root / f"r{i}.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in generations(outcomes)))
        import_generations(source, root / f"run{i}", model=model)
        paths.append(root / f"run{i}")
    return root, paths


def correct(answers):
    return [a is not None and a.endswith("*") for a in answers]


def covered(answers, k):
    """Exact chance that k of the samples drawn without replacement hold a correct one (enumeration)."""
    subsets = list(combinations(correct(answers), k))
    return Fraction(sum(any(s) for s in subsets), len(subsets))


def expected_regions(base, tuned, k):
    totals = dict.fromkeys("PSEO", Fraction(0))
    for task in base:
        b, t = covered(base[task], k), covered(tuned[task], k)
        for region, p in zip("PSEO", (b * t, b * (1 - t), (1 - b) * t, (1 - b) * (1 - t)), strict=True):
            totals[region] += p
    P, S, E = totals["P"], totals["S"], totals["E"]
    return {"SRR": P / (P + S), "NDR": E / (P + E), "NSCR": (E - S) / (P + E + S), **totals}


@pytest.mark.parametrize("k", [None, 2])
def test_series_numbers_against_brute_force(series_runs, k):
    _, paths = series_runs
    result = compare_series(paths, k=k, taus=(0.25, 0.5, 1.0))
    budget = k or 4
    assert result["k_max"] == 4 and result["support_k"] == budget and result["n_problems"] == 5
    assert [row["step"] for row in result["steps"]] == [0, 10, 20]
    for row, (outcomes, model) in zip(result["steps"], STEPS, strict=True):
        assert row["model"] == model
        rates = [Fraction(sum(correct(v)), len(v)) for v in outcomes.values()]
        assert row["pass_at_1"] == pytest.approx(float(sum(rates) / 5))
        assert row["pass_at_k_max"] == pytest.approx(sum(any(correct(v)) for v in outcomes.values()) / 5)
        assert row["cover_at"] == pytest.approx([sum(r >= tau for r in rates) / 5 for tau in (0.25, 0.5, 1)])
        assert row["answer_entropy"] == pytest.approx(sum(entropy(v) for v in outcomes.values()) / 5)
        if outcomes is BASE:  # the base against its own samples: nothing lost, nothing found
            solved = sum(covered(v, budget) for v in BASE.values())
            want = {"P": solved, "S": 0, "E": 0, "O": 5 - solved, "SRR": 1, "NDR": 0, "NSCR": 0}
        else:
            want = expected_regions(BASE, outcomes, budget)
        for key, value in want.items():
            assert row["support"][key] == pytest.approx(float(value)), (model, key)
    # At k = n the tuned end is BASE vs TUNED of test_compare: P a, b; S c; E d; O e.
    if k is None:
        last = result["steps"][-1]["support"]
        assert (last["P"], last["S"], last["E"], last["O"]) == (2, 1, 1, 1)
    table = render_series_markdown(result)
    assert "| 20 | grpo/step-000020 |" in table and "cover@0.25" in table


def test_cover_at_edges():
    assert cover_at([4, 4, 10], [0, 2, 10], [0.5, 1.0]).tolist() == [2 / 3, 1 / 3]
    assert cover_at([3], [1], [1 / 3]).tolist() == [1.0]  # c/n = tau exactly counts


def test_series_errors(series_runs, write):
    root, paths = series_runs
    with pytest.raises(LeashError, match="--series needs BASE and at least one checkpoint"):
        compare_series(paths[:1])
    with pytest.raises(LeashError, match="list the runs in training order"):
        compare_series([paths[0], paths[2], paths[1]])
    with pytest.raises(LeashError, match="must be between 1 and 4"):
        compare_series(paths, k=5)
    other = {**MIDDLE, "f": ["1*"] * 4}
    import_generations(write("other.jsonl", generations(other)), root / "other", model="m/step-000030")
    with pytest.raises(LeashError, match=r"differs in tasks from the base .* pass --intersect"):
        compare_series([*paths, root / "other"])
    kept = compare_series([*paths, root / "other"], intersect=True)
    assert kept["tasks"] == {"compared": 5, "intersect": True} and kept["steps"][-1]["step"] == 30
    # Model names without a step: the runs' positions.
    import_generations(write("plain.jsonl", generations(MIDDLE)), root / "plain", model="tuned")
    assert [r["step"] for r in compare_series([paths[0], root / "plain"])["steps"]] == [0, 1]


def leash(*args):
    """The command in this process (a subprocess per call would cost seconds of imports)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    result.returncode = result.exit_code
    return result


def test_series_cli(series_runs, tmp_path):
    _, paths = series_runs
    proc = leash("compare", *paths, "--series", "--out", tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "s" / "series.json").read_text())
    assert [r["step"] for r in result["steps"]] == [0, 10, 20]
    assert (tmp_path / "s" / "series.md").read_text() == render_series_markdown(result)
    assert (tmp_path / "s" / "series.png").read_bytes()[:4] == b"\x89PNG"
    assert_one_line_error(
        leash("compare", paths[0], "--series", "--out", tmp_path / "o"), "--series needs BASE"
    )
    assert_one_line_error(leash("compare", *paths, "--out", tmp_path / "o"), "pass --series")
    assert not (tmp_path / "o").exists()
    assert math.isfinite(result["steps"][1]["support"]["NSCR"])
