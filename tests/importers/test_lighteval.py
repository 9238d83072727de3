"""`--format lighteval`: details parquet in the current and the earlier layout."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leash.errors import LeashError
from leash.grading import grade_run
from leash.importers import import_generations
from leash.store import open_run


def test_current_layout_with_one_completion_per_row(tmp_path):
    table = pa.Table.from_pylist(
        [
            {"doc": {"query": "1+1?", "choices": ["2"], "gold_index": 0, "id": "7"},
             "model_response": {"text": ["it is 2"]}, "metric": {"extractive_match": 1.0}},
            {"doc": {"query": "2+2?", "choices": ["4"], "gold_index": 0, "id": "8"},
             "model_response": {"text": ["it is 5"]}, "metric": {"extractive_match": 0.0}},
        ]
    )  # fmt: skip
    path = tmp_path / "details_lighteval|math_500|0_2025-05-01T10-00-00.000.parquet"
    pq.write_table(table, path)
    summary = import_generations(path, tmp_path / "run", "lighteval")
    assert (summary.samples_added, summary.grades_added) == (2, 2)
    run = open_run(tmp_path / "run")
    tasks = {t["task_id"]: t for t in run.read_tasks().to_pylist()}
    assert set(tasks) == {"math_500/7", "math_500/8"}
    assert tasks["math_500/7"]["prompt"] == "1+1?" and '"answer": "2"' in tasks["math_500/7"]["reference"]
    verdicts = {g["task_id"]: g["correct"] for g in run.read("grades/imported").to_pylist()}
    assert verdicts == {"math_500/7": True, "math_500/8": False}


@pytest.mark.parametrize(
    "stem, dataset",
    [
        ("details_lighteval|math_500|0", "math_500"),  # lighteval < 0.13: suite|task|fewshot
        ("details_math_500|0", "math_500"),  # lighteval 0.13: task|fewshot
        ("details_aime24|4", "aime24"),
        ("details_mine|variant", "mine|variant"),  # not a fewshot count: kept
    ],
)
def test_task_name_strips_the_fewshot_suffix(tmp_path, stem, dataset):
    from leash.importers.lighteval import task_name

    assert task_name(tmp_path / f"{stem}_2025-09-01T10-00-00.000.parquet") == dataset


def test_earlier_layout_with_several_completions_and_a_list_metric(tmp_path):
    table = pa.Table.from_pylist(
        [
            {"example": "q", "full_prompt": "Q: q", "predictions": ["a", "b", "c"], "gold": ["b"],
             "metrics": '{"acc_per_sample": [0, 1, 0]}'},
        ]
    )  # fmt: skip
    path = tmp_path / "details_custom|t|0_2024-03-01T10-00-00.parquet"
    pq.write_table(table, path)
    summary = import_generations(path, tmp_path / "run", "lighteval")
    assert (summary.samples_added, summary.grades_added) == (3, 3)
    grades = open_run(tmp_path / "run").read("grades/imported").to_pylist()
    assert sorted((g["sample_idx"], g["correct"]) for g in grades) == [(0, False), (1, True), (2, False)]


def test_not_a_details_file(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(LeashError, match="not a lighteval details file"):
        import_generations(path, tmp_path / "run", "lighteval")
    (tmp_path / "y.parquet").write_text("not parquet")
    with pytest.raises(LeashError, match="not a readable Parquet file"):
        import_generations(tmp_path / "y.parquet", tmp_path / "run", "lighteval")


def test_sampling_metrics_log_one_value_for_n_completions_so_nothing_is_graded(tmp_path):
    # lighteval >= 0.10 with n = 4: `pass@k` / `avg@n` score each completion inside the metric and
    # store one value per document (lighteval's DetailsLogger.Detail.metric), as written here.
    rows = [
        {"doc": {"query": "1+1?", "choices": ["2"], "gold_index": 0, "id": "0"},
         "model_response": {"text": ["\\boxed{2}", "\\boxed{3}", "\\boxed{2}", "no idea"]},
         "metric": {"pass@k:k=1&n=4": 0.5, "avg@n:n=4": 0.5}},
        {"doc": {"query": "2+2?", "choices": ["4"], "gold_index": 0, "id": "1"},
         "model_response": {"text": ["\\boxed{4}", "\\boxed{4}", "\\boxed{4}", "\\boxed{4}"]},
         "metric": {"pass@k:k=1&n=4": 1.0, "avg@n:n=4": 1.0}},
    ]  # fmt: skip
    path = tmp_path / "details_lighteval|math_500|0_2025-05-01T10-00-00.000.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    summary = import_generations(path, tmp_path / "run", "lighteval")
    assert (summary.samples_added, summary.grades_added) == (8, 0)  # 0.5 for 4 samples says nothing each
    assert any("one value per metric for a document's 4 completions" in n for n in summary.notes)
    graded = grade_run(tmp_path / "run", "math", workers=1)  # the note's advice works
    verdicts = {
        (g["task_id"], g["sample_idx"]): g["correct"]
        for g in open_run(tmp_path / "run").read("grades/math").to_pylist()
    }
    assert graded.graded == 8 and [verdicts[("math_500/0", i)] for i in range(4)] == [
        True,
        False,
        True,
        False,
    ]
    assert all(verdicts[("math_500/1", i)] for i in range(4))
