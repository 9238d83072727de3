"""A run directory nothing can corrupt, as a user meets it: real `leash` processes at once,
kill -9 and Ctrl-C mid-way, damaged shards, edited files, bad run.json, lone surrogates."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from leash.store import GRADES, open_run
from tests.conftest import write_jsonl

LEASH = [sys.executable, "-m", "leash"]


def leash(*args, timeout=600):
    return subprocess.run([*LEASH, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def one_line_error(proc, fragment):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("leash: error: ") and fragment in lines[0], lines[0]
    return lines[0]


def stored_pairs(run, table="samples"):
    """Every (task_id, sample_idx) in the table's top-level shards, read with pyarrow alone."""
    import pyarrow.parquet as pq

    pairs = []
    for shard in sorted((Path(run) / table).glob("*.parquet")):
        t = pq.read_table(shard, columns=["task_id", "sample_idx"])
        pairs += list(zip(t["task_id"].to_pylist(), t["sample_idx"].to_pylist(), strict=True))
    return pairs


def wait_for(predicate, what, proc=None, seconds=600):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the process ended (exit {proc.returncode}) before {what}: {proc.stderr.read()}"
            )
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def holder_pid(run, table):
    path = Path(run) / ".locks" / f"{table.replace('/', '--')}.lock"
    try:
        return json.loads(path.read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


# -- sample: one writer, kill -9, Ctrl-C, nothing to sample -------------------------------------


@pytest.fixture
def sample_args(tiny_model, tmp_path):
    rows = [{"task_id": f"k{i}", "prompt": f"{i}*{i}="} for i in range(2)]
    write_jsonl(tmp_path / "t.jsonl", rows)
    return ["sample", "-m", tiny_model, "-t", f"file:{tmp_path / 't.jsonl'}", "-n", "12", "--max-tokens",
            "24", "--batch-size", "2", "--flush-every", "2", "--seed", "5"]  # fmt: skip


@pytest.fixture
def start():
    """Popen a `leash` command in the background; whatever still runs at the end is killed."""
    started = []

    def _start(args, run):
        proc = subprocess.Popen(
            [*LEASH, *map(str, args), "--run", str(run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # A shell that starts a job in the background (`make test &`, some CI runners) leaves
            # SIGINT ignored for it and everything under it; Ctrl-C is what this test sends.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_one_sampler_at_a_time_ctrl_c_and_kill_9_lose_and_double_nothing(sample_args, start, tmp_path):
    run = tmp_path / "run"
    first = start(sample_args, run)
    wait_for(lambda: holder_pid(run, "samples") == first.pid, "the first sampler's lock", first)
    second = leash(*sample_args, "--run", run)  # refused at once, before it loads the model
    line = one_line_error(second, "samples is being written by pid")
    assert f"pid {first.pid}" in line and "leash sample" in line

    wait_for(lambda: len(open_run(run).shards("samples")) >= 1, "a shard", first)
    assert first.poll() is None, "the sampler finished before Ctrl-C"
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "Traceback" not in err, err
    kept = len(stored_pairs(run))
    assert f"interrupted: {kept} samples of this call are stored in {run}" in err
    assert "run the same command to resume" in err

    third = start(sample_args, run)  # resumes; killed with -9 once it added a shard
    wait_for(lambda: len(stored_pairs(run)) > kept or third.poll() is not None, "a new shard")
    third.send_signal(signal.SIGKILL)  # the kernel releases its lock
    third.wait()
    resumed = leash(*sample_args, "--run", run)
    assert resumed.returncode == 0, resumed.stderr
    pairs = stored_pairs(run)
    assert len(pairs) == len(set(pairs)) == 2 * 12


def test_sampling_nothing_is_an_error_with_the_context_and_the_longest_prompt(tiny_model, tmp_path):
    rows = [{"task_id": "a", "prompt": "x" * 2100}, {"task_id": "b", "prompt": "y" * 3000}]  # context 2048
    write_jsonl(tmp_path / "t.jsonl", rows)
    proc = leash(
        "sample", "-m", tiny_model, "-t", f"file:{tmp_path / 't.jsonl'}", "-n", "2", "--run", tmp_path / "r"
    )
    one_line_error(proc, "every prompt (2 tasks) is at least the model's context of 2048 tokens")
    assert "the longest is 3001 tokens" in proc.stderr  # the plain template adds a newline
    assert not (tmp_path / "r").exists()


# -- grade: one writer, duplicates, regrade ---------------------------------------------------


def import_run(tmp_path, name, completions, tasks=None):
    """A run of imported samples: {task_id: [completion, ...]}, tasks with gold answers."""
    rows = [{"task_id": t, "completion": c} for t, cs in completions.items() for c in cs]
    write_jsonl(tmp_path / f"{name}.jsonl", rows)
    tasks = tasks or [
        {"task_id": t, "prompt": "?", "answer": "\\frac{1}{2}", "verifier": "math"} for t in completions
    ]
    write_jsonl(tmp_path / f"{name}-tasks.jsonl", tasks)
    proc = leash(
        "import",
        tmp_path / f"{name}.jsonl",
        "--run",
        tmp_path / name,
        "--tasks",
        tmp_path / f"{name}-tasks.jsonl",
    )
    assert proc.returncode == 0, proc.stderr
    return tmp_path / name


def test_a_second_grader_is_refused_while_one_holds_the_lock(tmp_path):
    run = import_run(tmp_path, "r", {"q": ["\\boxed{0.5}"] * 3})
    with open_run(run).lock("grades/math"):  # this test process is the first writer
        proc = leash("grade", run)
    line = one_line_error(proc, "grades/math is being written by pid")
    assert f"pid {__import__('os').getpid()}" in line
    assert not (run / "grades" / "math").exists()
    assert leash("grade", run).returncode == 0  # once released, grading goes on
    assert sorted(stored_pairs(run, "grades/math")) == [("q", 0), ("q", 1), ("q", 2)]


def test_two_graders_at_once_store_every_verdict_once(tmp_path):
    run = import_run(
        tmp_path, "r", {f"q{i}": [f"\\boxed{{{j}/{2 * j}}}" for j in range(1, 21)] for i in range(10)}
    )
    procs = [
        subprocess.Popen([*LEASH, "grade", str(run), "--timeout", "120"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        results = [(p.communicate(timeout=900)[1], p.returncode) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for err, code in results:
        assert code in (0, 2) and "Traceback" not in err, err
        if code == 2:
            assert "grades/math is being written by pid" in err
    pairs = stored_pairs(run, "grades/math")
    assert len(pairs) == len(set(pairs)) == 10 * 20
    assert all(open_run(run).read("grades/math")["correct"].to_pylist())


def test_duplicated_verdicts_are_an_error_not_counted_twice_and_doctor_repairs(tmp_path):
    base = import_run(tmp_path, "base", {"q": ["\\boxed{0.5}", "\\boxed{3}"]})
    tuned = import_run(tmp_path, "tuned", {"q": ["\\boxed{1/2}", "\\boxed{1/2}"]})
    for run in (base, tuned):
        assert leash("grade", run).returncode == 0
    # What two graders at once wrote before: every verdict of `tuned` stored twice.
    shard = open_run(tuned).shards("grades/math")[0]
    (shard.parent / "part-99999999999999999999-copy.parquet").write_bytes(shard.read_bytes())
    line = one_line_error(
        leash("compare", base, tuned, "--json", "-"), "stores (task_id 'q', sample_idx 0) 2 times"
    )
    assert f"leash doctor {tuned} --repair" in line
    one_line_error(leash("grade", tuned), "2 times")
    check = leash("doctor", tuned)
    assert (
        check.returncode == 1
        and "duplicate: grades/math/part-99999999999999999999-copy.parquet" in check.stdout
    )
    repair = leash("doctor", tuned, "--repair")
    assert repair.returncode == 0, repair.stderr
    assert (tuned / "quarantine" / "grades" / "math" / "part-99999999999999999999-copy.parquet").exists()
    assert leash("doctor", tuned).returncode == 0
    out = leash("compare", base, tuned, "--json", "-")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n"] == {"base": 2, "tuned": 2}  # not 4
    assert sorted(stored_pairs(tuned, "grades/math")) == [("q", 0), ("q", 1)]


def test_regrade_redoes_timeouts_as_a_new_generation(tmp_path):
    run = import_run(
        tmp_path, "r", {"q": ["\\boxed{0.5}", "\\boxed{2/4}", "\\boxed{\\frac{1}{2}}", "no answer"]}
    )
    first = leash("grade", run, "--timeout", "0")
    assert first.returncode == 0, first.stderr
    verdicts = {r["sample_idx"]: r["status"] for r in open_run(run).read("grades/math").to_pylist()}
    # With no time at all, every completion times out (the math verifier reads each one in a worker).
    assert verdicts == {0: "timeout", 1: "timeout", 2: "timeout", 3: "timeout"}
    assert (
        f"the run holds 4 timeout verdicts: redo them with `leash grade {run} --regrade --status timeout`"
        in first.stderr
    )
    assert "nothing new" in leash("grade", run).stderr  # a plain rerun does not redo them
    redo = leash("grade", run, "--regrade", "--status", "timeout", "--timeout", "120")
    assert redo.returncode == 0, redo.stderr
    assert "graded 4 completions" in redo.stderr and "the run holds" not in redo.stderr
    rows = open_run(run).read("grades/math").to_pylist()
    assert sorted((r["sample_idx"], r["status"], r["correct"]) for r in rows) == [
        (0, "ok", True), (1, "ok", True), (2, "ok", True), (3, "no_answer", False)
    ]  # fmt: skip
    # The old generation is kept, beside the new one that readers see.
    assert (run / "grades" / "math" / "CURRENT").read_text().strip() == "gen-0001"
    assert len(list((run / "grades" / "math").glob("*.parquet"))) == 1
    one_line_error(leash("grade", run, "--status", "timeout"), "use it with --regrade")
    one_line_error(leash("grade", run, "--regrade", "--status", "late"), "--status late")


def test_math_without_gold_answers_is_refused_before_writing(tmp_path):
    tasks = [{"task_id": "a", "prompt": "?"}, {"task_id": "b", "prompt": "?", "answer": "4"}]
    run = import_run(tmp_path, "r", {"a": ["\\boxed{4}"], "b": ["\\boxed{4}"]}, tasks=tasks)
    one_line_error(leash("grade", run, "--verifier", "math"), "1 of 2 tasks have none ('a')")
    assert not (run / "grades").exists()


# -- damaged files -----------------------------------------------------------------------------


def test_damaged_shards_are_named_then_quarantined_and_redone(tmp_path):
    run = import_run(tmp_path, "r", {"q": ["\\boxed{0.5}", "\\boxed{1}"]})
    assert leash("grade", run).returncode == 0
    grade_shard = open_run(run).shards("grades/math")[0]
    grade_shard.write_bytes(b"")  # zero bytes
    sample_shard = open_run(run).shards("samples")[0]
    sample_shard.write_bytes(sample_shard.read_bytes()[:100])  # truncated
    line = one_line_error(leash("grade", run), f"shard {sample_shard} is damaged")
    assert f"leash doctor {run} --repair" in line
    (run / "samples" / ".tmp-abc-part.parquet.partial").write_bytes(b"half")
    check = leash("doctor", run)
    assert check.returncode == 1
    assert "damaged: samples/" in check.stdout and "damaged: grades/math/" in check.stdout
    assert "temp: samples/.tmp-abc-part.parquet.partial" in check.stdout
    repair = leash("doctor", run, "--repair")
    assert (
        repair.returncode == 0 and "leash grade RUN" in repair.stdout and "leash import FILE" in repair.stdout
    )
    assert (run / "quarantine" / sample_shard.relative_to(run)).stat().st_size == 100
    assert (run / "quarantine" / grade_shard.relative_to(run)).stat().st_size == 0
    assert leash("import", tmp_path / "r.jsonl", "--run", run).returncode == 0  # redo what was lost
    assert leash("grade", run).returncode == 0
    assert sorted(stored_pairs(run, "grades/math")) == [("q", 0), ("q", 1)]
    assert leash("doctor", run).returncode == 0


def test_run_json_that_is_not_an_object_is_one_line(tmp_path):
    run = import_run(tmp_path, "r", {"q": ["x"]})
    (run / "run.json").write_text("[1, 2]\n")
    one_line_error(leash("grade", run), "a JSON list, not an object")
    one_line_error(leash("doctor", run), "a JSON list, not an object")


# -- import ------------------------------------------------------------------------------------


def test_reimporting_an_edited_file_is_refused_or_replaced(tmp_path):
    rows = [{"task_id": "q", "completion": "old answer"}]
    write_jsonl(tmp_path / "g.jsonl", rows)
    run = tmp_path / "r"
    assert leash("import", tmp_path / "g.jsonl", "--run", run).returncode == 0
    write_jsonl(tmp_path / "g.jsonl", [{"task_id": "q", "completion": "new answer"}])
    one_line_error(leash("import", tmp_path / "g.jsonl", "--run", run), "changed since it was imported")
    assert open_run(run).read("samples")["text"].to_pylist() == ["old answer"]
    replaced = leash("import", tmp_path / "g.jsonl", "--run", run, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert open_run(run).read("samples")["text"].to_pylist() == ["new answer"]
    (aside,) = tmp_path.glob("r.old-*")
    assert open_run(aside).read("samples")["text"].to_pylist() == ["old answer"]


@pytest.mark.parametrize(
    "line",
    [
        '{"task_id": "q", "completion": "bad \\ud800 text"}',
        '{"task_id": "q\\ud800", "completion": "fine"}',
    ],
)
def test_a_lone_surrogate_is_one_line_and_leaves_no_run(tmp_path, line):
    (tmp_path / "g.jsonl").write_text('{"task_id": "ok", "completion": "fine"}\n' + line + "\n")
    one_line_error(leash("import", tmp_path / "g.jsonl", "--run", tmp_path / "r"), "lone surrogate")
    assert not (tmp_path / "r").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["g.jsonl"]


def test_grades_shard_written_under_the_lock_by_python(tmp_path):
    """The Python API keeps the contract too: append needs the lock."""
    run = import_run(tmp_path, "r", {"q": ["x"]})
    rows = pa.Table.from_pylist(
        [{"task_id": "q", "sample_idx": 0, "correct": True, "score": 1.0, "answer": "x", "status": "ok",
          "detail": None}], schema=GRADES)  # fmt: skip
    with pytest.raises(RuntimeError, match=r"take `with run\.lock"):
        open_run(run).append("grades/exact", rows)
