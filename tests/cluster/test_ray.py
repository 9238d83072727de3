"""Ray scale-out on a real local cluster (one per module, loopback, 2 CPUs): `sample --backend
ray` with a worker killed -9 and with the driver killed -9, `grade` and `score --executor ray`,
each checked against the single-process run of the same command."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray", reason="ray is an extra: pip install 'leash[ray]' (CI installs it)")

from leash.cluster import RaySpec, connect, visible_problem  # noqa: E402
from leash.errors import LeashError  # noqa: E402
from leash.grading import grade_run  # noqa: E402
from leash.sampling import SamplingParams, sample_run  # noqa: E402
from leash.scoring import score_run  # noqa: E402
from leash.store import open_run  # noqa: E402
from tests.conftest import write_jsonl  # noqa: E402

N, TASKS = 32, 5
PARAMS = SamplingParams(max_tokens=24, seed=5)  # the CLI's defaults otherwise
LEASH = [sys.executable, "-m", "leash"]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tiny_model, tmp_path_factory):
    """The tasks and the single-process `hf` run every Ray run is compared with."""
    root = tmp_path_factory.mktemp("ray")
    tasks = write_jsonl(
        root / "tasks.jsonl",
        [{"task_id": f"t{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(TASKS)],
    )
    sample_run(str(tiny_model), f"file:{tasks}", N, root / "local", params=PARAMS, batch_size=8)
    return root, tasks, texts(root / "local")


def texts(run_dir):
    rows = open_run(run_dir).read("samples").to_pylist()
    return {(r["task_id"], r["sample_idx"]): r["text"] for r in rows}


def check_complete(run_dir, reference):
    """Exactly N samples per task, no key twice in any shard, the texts of the local run."""
    pairs = []
    for shard in sorted((Path(run_dir) / "samples").glob("*.parquet")):
        t = pq.read_table(shard, columns=["task_id", "sample_idx"])
        pairs += list(zip(t["task_id"].to_pylist(), t["sample_idx"].to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)) == N * TASKS
    assert sorted(pairs) == sorted((f"t{i}", j) for i in range(TASKS) for j in range(N))
    assert texts(run_dir) == reference
    assert not (Path(run_dir) / ".staging").exists()  # nothing staged is left behind


def busy_workers():
    """Pids of this machine's Ray actors that are sampling a unit (Ray titles them so)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::UnitWorker.run"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_worker_killed_mid_run_has_its_unit_redone_elsewhere(cluster, setup, tiny_model):
    root, tasks, reference = setup
    killed = []

    def kill_workers(done, total, tasks_done, tokens):
        if not killed:  # one unit is committed, the other replica is busy with the next one
            killed.extend(busy_workers())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    summary = sample_run(
        str(tiny_model), f"file:{tasks}", N, root / "killed-worker", params=PARAMS, batch_size=8,
        backend="ray", backend_options={"replicas": 2}, flush_rows=16, progress=kill_workers,
    )  # fmt: skip
    assert len(killed) == 1
    assert summary.samples_added == N * TASKS
    assert any("redone on a new Ray worker" in note for note in summary.notes), summary.notes
    check_complete(root / "killed-worker", reference)


def test_a_killed_driver_is_resumed_by_the_same_command(cluster, setup, tiny_model):
    root, tasks, reference = setup
    run = root / "killed-driver"
    args = [*LEASH, "sample", "-m", tiny_model, "-t", f"file:{tasks}", "-n", N, "--run", run,
            "--max-tokens", 24, "--seed", 5, "--batch-size", 8, "--flush-every", 16,
            "--backend", "ray", "--address", cluster]  # fmt: skip
    args = [str(a) for a in args]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not list((run / "samples").glob("part-*.parquet")):
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.time() < deadline, "no shard was committed"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    stored = len(open_run(run).read("samples"))
    assert 0 < stored < N * TASKS, "the driver finished before it was killed"
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"sampled {N * TASKS - stored} completions" in again.stderr
    check_complete(run, reference)


def test_grade_and_score_on_ray_match_the_local_commands(cluster, setup, tiny_model):
    root, _, _ = setup
    run = root / "local"
    local = grade_run(run, "exact")
    verdicts = sorted(
        open_run(run).read("grades/exact").to_pylist(), key=lambda r: (r["task_id"], r["sample_idx"])
    )
    spec = RaySpec(replicas=2)
    import shutil

    shutil.rmtree(run / "grades")
    remote = grade_run(run, "exact", executor="ray", ray=spec, batch_rows=50)
    again = sorted(
        open_run(run).read("grades/exact").to_pylist(), key=lambda r: (r["task_id"], r["sample_idx"])
    )
    assert (
        (remote.graded, remote.by_verifier)
        == (local.graded, local.by_verifier)
        == (N * TASKS, remote.by_verifier)
    )
    assert again == verdicts

    score_run(run, str(tiny_model), batch_size=4)
    scores = (
        open_run(run).read("scores/tiny").sort_by([("task_id", "ascending"), ("sample_idx", "ascending")])
    )
    shutil.rmtree(run / "scores")
    remote_scores = score_run(run, str(tiny_model), batch_size=4, executor="ray", ray=RaySpec(replicas=1))
    ray_scores = (
        open_run(run).read("scores/tiny").sort_by([("task_id", "ascending"), ("sample_idx", "ascending")])
    )
    assert remote_scores.scored == N * TASKS
    assert ray_scores["sample_idx"].to_pylist() == scores["sample_idx"].to_pylist()
    assert ray_scores["n_tokens"].to_pylist() == scores["n_tokens"].to_pylist()
    for column in ("logprob_sum", "token_entropy_mean"):
        np.testing.assert_allclose(ray_scores[column].to_numpy(), scores[column].to_numpy(), rtol=1e-5)


def test_user_mistakes_are_one_line_before_anything_is_written(cluster, setup, tiny_model, monkeypatch):
    root, tasks, _ = setup
    with pytest.raises(LeashError, match="--replicas 0: must be >= 1"):
        sample_run(
            str(tiny_model), f"file:{tasks}", 2, root / "zero", backend="ray", backend_options={"replicas": 0}
        )
    with pytest.raises(LeashError, match="needs 6 CPUs and the Ray cluster has 2"):
        grade_run(root / "local", "exact", executor="ray", ray=RaySpec(replicas=6))
    assert not (root / "zero").exists()
    bad = subprocess.run(
        [*LEASH, "sample", "-m", str(tiny_model), "-t", f"file:{tasks}", "-n", "2", "--run", str(root / "bad"),
         "--backend", "ray", "--address", "127.0.0.1:1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert lines[0].startswith("leash: error: --address 127.0.0.1:1: no Ray cluster answers there")
    assert not (root / "bad").exists()
    run = root / "local"
    assert visible_problem(run, run / "samples") is None
    hidden = visible_problem(root / "elsewhere", root / "elsewhere" / ".staging")
    assert hidden.startswith("ray worker on ") and "cannot see the run directory" in hidden
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(LeashError, match=r"pip install 'leash\[ray\]'"):
        connect(RaySpec())
