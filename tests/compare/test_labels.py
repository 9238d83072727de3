"""Labels written by hand (no `graded` column, the schema before leash serve) and by the browser:
which verdict each makes, the latest per sample winning, and the report saying what changed."""

import pyarrow as pa

from leash.compare import compare_runs
from leash.importers import import_generations
from leash.report import build_report
from leash.store import LABELS, open_run
from tests.conftest import generations, write_jsonl

# p0: samples 0-1 correct, 2-3 wrong; p1: all wrong; 4 samples each.
ANSWERS = {"p0": ["1*", "1*", "2", "2"], "p1": ["2", "2", "2", "2"]}


def _run(tmp_path, name):
    write_jsonl(tmp_path / f"{name}.jsonl", generations(ANSWERS))
    import_generations(tmp_path / f"{name}.jsonl", tmp_path / name, model=name)
    return tmp_path / name


def test_hand_written_labels_latest_wins_and_bad_grade_flips_the_current_verdict(tmp_path):
    base, tuned = _run(tmp_path, "base"), _run(tmp_path, "tuned")
    rows = [  # (task, idx, label, created)
        ("p0", 0, "lucky", "2026-01-01T00:00:00+00:00"),  # correct -> incorrect
        ("p0", 1, "hack", "2026-01-01T00:00:00+00:00"),
        ("p0", 1, "ok", "2026-01-02T00:00:00+00:00"),  # later: back to the grader's (correct)
        ("p0", 2, "note", "2026-01-03T00:00:00+00:00"),  # changes nothing
        ("p1", 0, "bad-grade", "2026-01-01T00:00:00+00:00"),  # incorrect -> correct
        ("p1", 1, "correct", "2026-01-01T00:00:00+00:00"),
        ("p1", 1, "incorrect", "2026-01-01T00:00:00+00:00"),  # same time, later row: wins
    ]
    table = pa.table(
        {"task_id": [r[0] for r in rows], "sample_idx": [r[1] for r in rows], "label": [r[2] for r in rows],
         "note": [None] * len(rows), "created": [r[3] for r in rows]},
        schema=LABELS,
    )  # fmt: skip
    open_run(base).write_labels(table)
    result = compare_runs(base, tuned, n_boot=10)
    c = {p["task_id"]: p["c_base"] for p in result["problems"]}
    assert c == {"p0": 1, "p1": 1}  # p0: 2 - lucky(0) = 1; p1: 0 + bad-grade(0) = 1
    effect = result["runs"]["base"]["labels"]
    assert effect["by_label"] == {"bad-grade": 1, "incorrect": 1, "lucky": 1, "ok": 1}
    assert (effect["to_incorrect"], effect["to_correct"], effect["problems_changed"]) == (1, 1, 2)
    raw = compare_runs(base, tuned, n_boot=10, labels=False)
    assert {p["task_id"]: p["c_base"] for p in raw["problems"]} == {"p0": 2, "p1": 0}
    assert raw["runs"]["base"]["labels"]["ignored"] == 4
    html = build_report([base, tuned], tmp_path / "report").read_text()
    assert "4 labels applied (1 bad-grade, 1 incorrect, 1 lucky, 1 ok)" in html
