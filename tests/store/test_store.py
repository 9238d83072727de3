"""The run directory: atomic shards, resume keys, Arrow and DuckDB reads."""

import json

import pyarrow as pa
import pytest

from leash.errors import LeashError
from leash.store import SAMPLES, SCHEMA_VERSION, create_run, open_run


def append(run, table, rows):
    with run.lock(table):
        return run.append(table, rows)


def sample_rows(task_id: str, idx: list[int]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "task_id": task_id,
                "sample_idx": i,
                "seed": i,
                "text": f"t{i}",
                "n_tokens": 3,
                "finish_reason": "stop",
            }
            for i in idx
        ],
        schema=SAMPLES,
    )


def test_create_writes_run_json_with_schema_version(tmp_path):
    run = create_run(tmp_path / "r", {"model": "m"})
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION
    assert meta["model"] == "m"
    assert "leash_version" in meta and "created" in meta
    assert open_run(tmp_path / "r").meta()["model"] == "m"
    run.update_meta({"counts": {"samples": 3}})
    run.update_meta({"counts": {"tasks": 1}})
    assert run.meta()["counts"] == {"samples": 3, "tasks": 1}


def test_append_keys_and_read(tmp_path):
    run = create_run(tmp_path / "r")
    assert run.keys("samples") == {}
    append(run, "samples", sample_rows("a", [0, 1, 2]))
    append(run, "samples", sample_rows("b", [0]))
    append(run, "samples", sample_rows("a", [3]))
    keys = run.keys("samples")
    assert {k: v.tolist() for k, v in keys.items()} == {"a": [0, 1, 2, 3], "b": [0]}
    table = run.read("samples")
    assert table.num_rows == 5
    assert table.schema.field("sample_idx").type == pa.int64()
    assert run.read("samples", ["task_id"]).column_names == ["task_id"]
    assert append(run, "samples", sample_rows("c", [])) is None


def test_duplicate_pairs_in_one_shard_are_refused(tmp_path):
    run = create_run(tmp_path / "r")
    with pytest.raises(ValueError, match="duplicate"):
        append(run, "samples", sample_rows("a", [0, 0]))
    assert run.shards("samples") == []


def test_a_crashed_write_leaves_no_visible_shard(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    run = create_run(tmp_path / "r")
    append(run, "samples", sample_rows("a", [0]))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError):
        append(run, "samples", sample_rows("a", [1]))
    monkeypatch.undo()
    assert len(run.shards("samples")) == 1
    assert list((tmp_path / "r" / "samples").iterdir()) == run.shards("samples")
    assert run.keys("samples")["a"].tolist() == [0]


def test_leftover_temp_files_are_ignored(tmp_path):
    run = create_run(tmp_path / "r")
    append(run, "samples", sample_rows("a", [0]))
    (tmp_path / "r" / "samples" / ".tmp-x-part.parquet.partial").write_bytes(b"half a file")
    assert run.read("samples").num_rows == 1


def test_missing_columns_and_bad_names(tmp_path):
    run = create_run(tmp_path / "r")
    with pytest.raises(ValueError, match="missing columns"):
        append(run, "samples", pa.table({"task_id": ["a"]}))
    with pytest.raises(LeashError, match="invalid grades name"):
        run.table_dir("grades/../x")
    with pytest.raises(ValueError, match="unknown table"):
        run.table_dir("grades")


def test_grades_and_scores_tables_and_duckdb_views(tmp_path):
    run = create_run(tmp_path / "r")
    append(run, "samples", sample_rows("a", [0, 1]))
    grades = pa.table(
        {"task_id": ["a", "a"], "sample_idx": [0, 1], "correct": [True, False], "score": [1.0, 0.0],
         "answer": ["4", "5"], "status": ["ok", "ok"], "detail": [None, None]}
    )  # fmt: skip
    append(run, "grades/math", grades)
    append(run, "grades/exact", grades)
    append(
        run,
        "scores/base-model",
        pa.table({"task_id": ["a"], "sample_idx": [0], "logprob_sum": [-1.5], "n_tokens": [3],
                  "token_entropy_mean": [0.2]}),
    )  # fmt: skip
    assert run.names("grades") == ["exact", "math"]
    assert run.names("scores") == ["base-model"]
    con = run.connect()
    assert con.sql("select count(*) from samples").fetchall() == [(2,)]
    assert con.sql("select grader, count(*) from grades group by 1 order by 1").fetchall() == [
        ("exact", 2),
        ("math", 2),
    ]
    assert con.sql("select scorer, logprob_sum from scores").fetchall() == [("base-model", -1.5)]


def test_tasks_merge_keeps_stored_rows(tmp_path):
    from leash.store import TASKS
    from leash.tasks import task_row

    run = create_run(tmp_path / "r")
    run.write_tasks(pa.Table.from_pylist([task_row("a", prompt="first")], schema=TASKS))
    run.write_tasks(pa.Table.from_pylist([task_row("a", prompt="second"), task_row("b")], schema=TASKS))
    tasks = run.read_tasks().to_pylist()
    assert [(t["task_id"], t["prompt"]) for t in tasks] == [("a", "first"), ("b", None)]


def test_open_errors_are_clear(tmp_path):
    with pytest.raises(LeashError, match="does not exist"):
        open_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LeashError, match="not a leash run"):
        open_run(tmp_path / "empty")
    future = create_run(tmp_path / "future")
    future.meta_path.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(LeashError, match="upgrade leash"):
        open_run(tmp_path / "future")
