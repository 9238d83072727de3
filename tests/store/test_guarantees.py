"""What a run guarantees: one writer per table, a key stored once, generations seen whole."""

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from leash.doctor import check_run, repair_run
from leash.errors import LeashError
from leash.store import GRADES, SAMPLES, create_run, open_run


def samples(task_id, idx, text="t"):
    return pa.Table.from_pylist(
        [{"task_id": task_id, "sample_idx": i, "seed": i, "text": f"{text}{i}", "n_tokens": 1,
          "finish_reason": "stop"} for i in idx], schema=SAMPLES)  # fmt: skip


def grades(task_id, idx, status="ok"):
    return pa.Table.from_pylist(
        [{"task_id": task_id, "sample_idx": i, "correct": status == "ok", "score": 1.0, "answer": "a",
          "status": status, "detail": None} for i in idx], schema=GRADES)  # fmt: skip


def hold_lock_in_child(run, table, then):
    """A child process that takes the lock, says so on stdout, then `then` (python code)."""
    code = textwrap.dedent(f"""
        import sys, time
        from leash.store import open_run
        with open_run({str(run.path)!r}).lock({table!r}):
            print("held", flush=True)
            {then}
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_lock_refuses_other_processes_and_dies_with_its_holder(tmp_path):
    run = create_run(tmp_path / "r")
    child = hold_lock_in_child(run, "samples", "time.sleep(600)")
    with (
        pytest.raises(LeashError, match=rf"samples is being written by pid {child.pid} \(`"),
        run.lock("samples"),
    ):
        pass
    with run.lock("grades/math"):  # another table is free
        run.append("grades/math", grades("a", [0]))
    child.kill()  # SIGKILL: no cleanup runs, the kernel drops the lock
    child.wait()
    with run.lock("samples"), run.lock("samples"):  # re-entrant in one process
        run.append("samples", samples("a", [0]))
    assert run.keys("samples")["a"].tolist() == [0]


def test_append_needs_the_lock(tmp_path):
    run = create_run(tmp_path / "r")
    with pytest.raises(RuntimeError, match=r"take `with run\.lock"):
        run.append("samples", samples("a", [0]))
    assert run.shards("samples") == []


def test_every_reader_refuses_a_duplicated_key(tmp_path):
    run = create_run(tmp_path / "r")
    with run.lock("samples"):
        run.append("samples", samples("a", [0, 1]))
        run.append("samples", samples("a", [1, 2]))  # what an unlocked second writer did
    for read in (lambda: run.keys("samples"), lambda: run.read("samples"), run.connect):
        with pytest.raises(LeashError, match=r"samples stores \(task_id 'a', sample_idx 1\) 2 times"):
            read()
    findings = check_run(run)
    assert [(f.kind, f.table) for f in findings] == [("duplicate", "samples")]
    repair_run(run, findings)
    assert run.keys("samples")["a"].tolist() == [0, 1, 2]
    assert sorted(run.read("samples")["text"].to_pylist()) == ["t0", "t1", "t2"]
    assert len(list((run.path / "quarantine" / "samples").glob("*.parquet"))) == 1
    assert check_run(run) == []


def test_a_generation_is_seen_only_once_committed(tmp_path):
    run = create_run(tmp_path / "r")
    with run.lock("grades/math"):
        run.append("grades/math", grades("a", [0, 1], "timeout"))
        gen = run.new_generation("grades/math", {"statuses": ["timeout"]})
        run.append("grades/math", grades("a", [0]), gen)
        # In progress: every reader still sees the old generation, whole.
        assert run.read("grades/math")["status"].to_pylist() == ["timeout", "timeout"]
        assert run.connect().sql("select count(*) from grades").fetchall() == [(2,)]
        assert run.pending_generation("grades/math") == gen == "gen-0001"
        run.append("grades/math", grades("a", [1]), gen)
        run.commit_generation("grades/math", gen)
    assert run.read("grades/math")["status"].to_pylist() == ["ok", "ok"]
    assert run.keys("grades/math")["a"].tolist() == [0, 1]
    assert run.names("grades") == ["math"] and run.pending_generation("grades/math") is None
    assert len(run.shards("grades/math", "")) == 1  # the old generation is kept


def test_damaged_shard_named_in_one_line(tmp_path):
    run = create_run(tmp_path / "r")
    with run.lock("samples"):
        path = run.append("samples", samples("a", [0]))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(LeashError, match=rf"shard {path} is damaged \(truncated"):
        run.keys("samples")
    path.write_bytes(b"")
    with pytest.raises(LeashError, match=r"damaged \(zero bytes\); run `leash doctor"):
        run.read("samples")


def test_run_json_not_an_object_and_a_racing_create(tmp_path):
    run = create_run(tmp_path / "r", {"model": "first"})
    assert create_run(tmp_path / "r", {"model": "second"}).meta()["model"] == "first"
    run.meta_path.write_text(json.dumps(["not", "an", "object"]))
    with pytest.raises(LeashError, match="a JSON list, not an object"):
        open_run(tmp_path / "r")
