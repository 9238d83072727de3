"""What a reader of the report sees: short model names, integer counts, both support grains on
their own axes, a labelled crossover, and every problem the tuned model lost."""

import re

import pytest

from leash.compare import compare_runs
from leash.compare.markdown import render_markdown
from leash.importers import import_generations
from leash.report import build_report, plots
from tests.conftest import generations, write_jsonl

BASE_MODEL = "/home/me/runs/demo/models/base"
TUNED_MODEL = "/home/me/runs/demo/models/grpo"

# 8 problems, 8 samples each. The base solves each once (pass@1 = 1/8, pass@8 = 1); the tuned
# model solves p0-p3 every time and p4-p7 never (pass@1 = pass@8 = 1/2): base overtakes the tuned
# model at some k, and p4-p7 are lost (region S at k = 8) though 1/8 vs 0/8 is far from significant.
BASE = {f"p{i}": ["1*"] + ["2"] * 7 for i in range(8)}
TUNED = {f"p{i}": ["1*"] * 8 if i < 4 else ["3"] * 8 for i in range(8)}
LOST = ["p4", "p5", "p6", "p7"]


@pytest.fixture
def pair(tmp_path):
    paths = []
    for name, answers, model in (("base", BASE, BASE_MODEL), ("tuned", TUNED, TUNED_MODEL)):
        write_jsonl(tmp_path / f"{name}.jsonl", generations(answers))
        import_generations(tmp_path / f"{name}.jsonl", tmp_path / name, model=model)
        paths.append(tmp_path / name)
    return paths


@pytest.mark.parametrize(
    ("model", "short"),
    [
        ("/home/me/runs/demo/models/grpo", "grpo"),
        ("/home/me/runs/demo/models/grpo/", "grpo"),
        ("Qwen/Qwen2.5-7B", "Qwen2.5-7B"),
        ("runs/grpo/checkpoint-500", "grpo/checkpoint-500"),
        ("example-base", "example-base"),
        ("C:\\models\\dapo", "dapo"),
    ],
)
def test_short_name(model, short):
    from leash.compare.markdown import short_name

    assert short_name({"model": model}) == short
    assert short_name({}, "fallback") == "fallback"


@pytest.mark.parametrize(
    ("value", "text"), [(48.0, "48"), (0.0, "0"), (47.25, "47.2"), (3, "3"), (None, "–")]
)
def test_region_counts_print_as_integers_when_whole(value, text):
    from leash.compare.markdown import fmt_count

    assert fmt_count(value) == text


def test_full_model_path_only_in_the_metadata(pair, tmp_path):
    html = build_report(pair, tmp_path / "out").read_text()
    for model in (BASE_MODEL, TUNED_MODEL):
        assert html.count(model) == 1, model
        runs_table = html[html.index("<h2>Runs</h2>") :]
        assert model in runs_table
    assert "<h3>grpo vs base</h3>" in html and ">grpo</th>" in html
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.startswith("# grpo vs base")
    assert "- tuned: **grpo** (model `/home/me/runs/demo/models/grpo`" in md


def test_region_counts_are_integers_in_the_page(pair, tmp_path):
    html = build_report(pair, tmp_path / "out").read_text()
    cells = dict(re.findall(r'<td data-key="0\.support\.problem\.([PSEO])">([^<]*)</td>', html))
    # Independent count at k = n = 8: P both solve (p0-p3), S base only (p4-p7), E and O none.
    assert cells == {"P": "4", "S": "4", "E": "0", "O": "0"}


def test_every_lost_problem_is_listed_even_when_not_significant(pair, tmp_path):
    result = compare_runs(*pair)
    assert result["significance"]["shrinkage"] == []  # 1/8 vs 0/8: no single loss is significant
    md = render_markdown(result)
    section = md[md.index("## Problems the tuned model lost") :]
    assert "region S at k = 8): 4" in section
    for task in LOST:
        assert f"| `{task}` | 1/8 | 0/8 |" in section
    assert "`p0`" not in section
    html = build_report(pair, tmp_path / "out").read_text()
    page = html[html.index("<h2>Problems the tuned model lost</h2>") :]
    assert "grpo: 4 lost at k = 8" in page
    assert all(f"<td>{task}</td><td>1/8</td><td>0/8</td>" in page for task in LOST)


def test_no_lost_problem_is_said(tmp_path):
    same = {f"p{i}": ["1*", "2"] for i in range(3)}
    for name in ("a", "b"):
        write_jsonl(tmp_path / f"{name}.jsonl", generations(same))
        import_generations(tmp_path / f"{name}.jsonl", tmp_path / name, model=name)
    result = compare_runs(tmp_path / "a", tmp_path / "b")
    assert "region S at k = 2): 0\n\nnone" in render_markdown(result)


def test_support_chart_has_one_axis_per_grain(pair):
    result = compare_runs(*pair)
    fig = plots.region_bars_figure([("grpo", result)])
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert labels == ["problems", "distinct correct answers"]
    # Each panel's bar spans its own total: 8 problems, and the distinct correct answers.
    totals = [max(p.get_x() + p.get_width() for p in ax.patches) for ax in fig.axes]
    answer_units = result["support"]["answer"]
    assert totals == [8.0, sum(answer_units[r] for r in "PSEO")]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["4", "4"]  # P and S segments, integers


def test_crossover_line_is_labelled(pair):
    result = compare_runs(*pair)
    crossing = result["pass_at_k"]["crossover_k"]
    assert crossing is not None
    fig = plots.pass_at_k_figure([("grpo", result)], "all problems")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["base", "grpo", f"base overtakes grpo at k = {crossing}"]
    assert f"k = {crossing}" in [t.get_text() for t in fig.axes[0].texts]
