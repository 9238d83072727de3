"""The luck baseline, who gains and the reliability blocks of compare.json, end to end on graded
runs, against brute-force counts written here from the raw answers."""

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from leash.compare import compare_runs
from leash.grading import grade_run
from leash.importers import import_generations
from tests.conftest import write_jsonl

# dataset "nums" (verifier exact): gold answers; dataset "mc" (verifier choice, 4 options).
GOLD = {"n0": "1", "n1": "2", "n2": "3", "n3": "1", "n4": "7", "m0": "B", "m1": "D"}
BASE = {
    "n0": ["1", "1", "2", "4"],
    "n1": ["1", "1", "1", "3"],
    "n2": ["3", "2", None, "1"],
    "n3": ["4", "4", "4", "2"],
    "n4": ["5", "6", "6", "1"],
    "m0": ["A", "B", "B", "C"],
    "m1": ["A", "A", "B", "C"],
}
TUNED = {
    "n0": ["1", "1", "1", "1"],
    "n1": ["2", "2", "1", "1"],
    "n2": ["1", "1", "1", "1"],
    "n3": ["1", "4", "4", "4"],
    "n4": ["6", "6", "6", "6"],
    "m0": ["B", "B", "B", "B"],
    "m1": ["D", "A", "A", "A"],
}
DATASET = {t: "mc" if t.startswith("m") else "nums" for t in GOLD}


def _run(tmp_path, name, outcomes, dataset):
    rows = [
        {"task_id": t, "completion": "no idea" if a is None else f"answer: {a}", "dataset": DATASET[t]}
        for t, answers in outcomes.items()
        for a in answers
        if DATASET[t] == dataset
    ]
    gens = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    import_generations(gens, tmp_path / name, tasks_file=tmp_path / "tasks.jsonl", model=name)
    grade_run(tmp_path / name, workers=1)
    return tmp_path / name


def _runs(tmp_path_factory, dataset):
    """Base and tuned runs of one dataset (a run compares with one grader)."""
    tmp_path = tmp_path_factory.mktemp("luck")
    tasks = [
        {
            "task_id": t,
            "answer": g,
            "dataset": DATASET[t],
            "verifier": "choice" if DATASET[t] == "mc" else "exact",
            **({"reference": {"answer": g, "choices": ["w", "x", "y", "z"]}} if DATASET[t] == "mc" else {}),
        }
        for t, g in GOLD.items()
        if DATASET[t] == dataset
    ]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    return _run(tmp_path, "base", BASE, dataset), _run(tmp_path, "tuned", TUNED, dataset)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return _runs(tmp_path_factory, "nums")


@pytest.fixture(scope="module")
def mc_result(tmp_path_factory):
    return compare_runs(*_runs(tmp_path_factory, "mc"), n_boot=20)


@pytest.fixture(scope="module")
def result(runs):
    return compare_runs(*runs, n_boot=50)


def brute_p_guess(outcomes, checked=None, dataset="nums"):
    """p_guess per problem from the raw answers: the pool's share equal to the gold."""
    out = {}
    for t, gold in GOLD.items():
        if DATASET[t] != dataset:
            continue
        pool = Counter(a for u in GOLD if DATASET[u] == DATASET[t] for a in outcomes[u] if a is not None)
        # known without grading: the answers either run gave on this problem
        seen = set(pool) if checked is None else set(checked[DATASET[t]]) | set(BASE[t]) | set(TUNED[t])
        out[t] = Fraction(sum(m for a, m in pool.items() if a == gold and a in seen), sum(pool.values()))
    return out


@pytest.mark.parametrize("dataset", ["nums", "mc"])
def test_p_guess_and_luck_curve_match_brute_force(dataset, result, mc_result):
    result = result if dataset == "nums" else mc_result
    by_id = {p["task_id"]: p for p in result["problems"]}
    ks = result["luck"]["pass_at_k"]["k"]
    ids = [t for t in GOLD if DATASET[t] == dataset]
    for side, outcomes in (("base", BASE), ("tuned", TUNED)):
        want = brute_p_guess(outcomes, dataset=dataset)
        for t, p in want.items():
            assert by_id[t]["p_guess"][side] == pytest.approx(float(p), abs=1e-12)
        assert result["luck"]["p_guess"][side] == pytest.approx(float(np.mean(list(want.values()))))
        curve = [float(np.mean([1 - (1 - p) ** k for p in want.values()])) for k in ks]
        np.testing.assert_allclose(result["luck"]["pass_at_k"][side], curve, atol=1e-12)
        lo_hi = np.array(result["luck"]["pass_at_k"][f"{side}_band"])
        assert np.all(lo_hi[:, 0] <= np.array(curve) + 1e-12) and np.all(
            np.array(curve) <= lo_hi[:, 1] + 1e-12
        )
        # within luck: solved, and c/n no higher than p_guess
        c = {t: sum(a == GOLD[t] for a in outcomes[t]) for t in ids}
        within = sum(1 for t in ids if c[t] >= 1 and Fraction(c[t], 4) <= want[t])
        assert result["luck"]["within_luck"][side] == within
        assert result["luck"]["solved"][side] == sum(1 for t in ids if c[t] >= 1)
        assert result["luck"]["unchecked_share"][side] == 0.0
    # every pair not seen in the runs was graded once, through the verifier
    cost = result["luck_cost"]
    assert cost["pairs_failed"] == 0 and cost["pairs_graded"] > 0
    assert cost["verifiers"] == ["choice" if dataset == "mc" else "exact"]


def test_uniform_guessing_for_choice_tasks(result, mc_result):
    uniform = mc_result["luck"]["uniform"]
    assert uniform["n_problems"] == 2
    np.testing.assert_allclose(uniform["pass_at_k"], [1 - 0.75**k for k in uniform["k"]])
    assert result["luck"]["uniform"] is None


def test_answer_cap_gives_a_lower_bound_and_says_so(runs):
    capped = compare_runs(*runs, n_boot=20, luck_answers=1)
    by_id = {p["task_id"]: p for p in capped["problems"]}
    for side, outcomes in (("base", BASE), ("tuned", TUNED)):
        checked = {}
        for d in ("nums",):
            tops = []
            for o in (BASE, TUNED):  # each run's most frequent answer (ties: the smallest string)
                pool = Counter(a for u in GOLD if DATASET[u] == d for a in o[u] if a is not None)
                tops.append(min(pool, key=lambda a: (-pool[a], a)))
            checked[d] = tops
        for t, p in brute_p_guess(outcomes, checked).items():
            assert by_id[t]["p_guess"][side] == pytest.approx(float(p), abs=1e-12)
    assert capped["luck"]["unchecked_share"]["base"] > 0
    assert capped["luck_cost"]["max_answers"] == 1
    assert compare_runs(*runs, n_boot=20, luck_answers=0)["luck"] is None


def test_who_gains_spearman_against_scipy(result):
    problems = result["problems"]
    k_max = result["se_gap"]["k_max"]
    x = [p["c_base"] / p["n_base"] for p in problems]
    for j, k in enumerate(result["who_gains"]["k"]):
        delta = [float(p["delta_pass_at_k"][j]) for p in problems]
        want = [
            (1 - Fraction(*_ratio(p["n_tuned"], p["c_tuned"], k)))
            - (1 - Fraction(*_ratio(p["n_base"], p["c_base"], k)))
            for p in problems
        ]
        np.testing.assert_allclose(delta, [float(w) for w in want], atol=1e-12)
        assert result["who_gains"]["spearman"][j] == pytest.approx(stats.spearmanr(x, delta).statistic)
    assert result["who_gains"]["k"] == [1, k_max]


def _ratio(n, c, k):
    from math import comb

    return comb(n - c, k), comb(n, k)


def test_reliability_blocks_are_means_of_exact_values(result):
    problems = result["problems"]
    from math import comb

    block = result["pass_hat_k"]
    for side in ("base", "tuned"):
        want = [
            float(np.mean([Fraction(comb(p[f"c_{side}"], k), comb(p[f"n_{side}"], k)) for p in problems]))
            for k in block["k"]
        ]
        np.testing.assert_allclose(block[side], want, atol=1e-12)
        cover = result["cover_at_tau"]
        want_cover = [
            np.mean([Fraction(p[f"c_{side}"], p[f"n_{side}"]) >= Fraction(str(tau)) for p in problems])
            for tau in cover["tau"]
        ]
        np.testing.assert_allclose(cover[side], want_cover, atol=1e-12)
        g = result["g_pass_at_k"]
        for tau, curve in g["by_tau"].items():
            for i, k in enumerate(curve["k"]):
                m = max(-(-Fraction(tau) * k // 1), 1)
                exact = np.mean(
                    [
                        float(stats.hypergeom.sf(int(m) - 1, p[f"n_{side}"], p[f"c_{side}"], k))
                        for p in problems
                    ]
                )
                assert curve[side][i] == pytest.approx(exact, abs=1e-12)
    assert set(result["g_pass_at_k"]["by_tau"]) == {"0.25", "0.5", "0.75", "1.0"}
    assert "mg_pass_at_k" in result and "pass_hat_k" in result["by_dataset"]["nums"]


def test_report_shows_luck_reliability_and_who_gains(result, tmp_path):
    from leash.compare import write_comparison
    from leash.report import build_report

    write_comparison(result, tmp_path / "cmp")
    html_path = build_report([], tmp_path / "report", compare_dir=tmp_path / "cmp")
    html = html_path.read_text()
    for heading in ("Luck baseline", "Reliability", "Who gains"):
        assert f">{heading}<" in html
    for figure in ("pass_at_k.png", "reliability.png", "who_gains_0.png"):
        assert (tmp_path / "report" / figure).stat().st_size > 1000
    p_guess = f"{result['luck']['p_guess']['tuned']:.4f}"
    assert p_guess in html  # the luck table shows compare.json's numbers
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Luck baseline (5 problems)" in md and "Spearman" in md
