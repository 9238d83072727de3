"""`leash serve` on two runs of 1,000 tasks x 1,024 samples (2M completions): startup, first page,
problem pages and the server's memory.

The runs are written straight into run directories with `leash.store` (tasks with prompts and 4
datasets, samples with ~220-character texts of random words, grades with canonical answers), then
`leash serve` runs as a user runs it, in its own process; the requests are what the pages ask for:

    first page    GET /, /static/*.js, /api/overview, /api/problems (the browser's first screen)
    problem page  GET /problem, /api/problem, /api/samples for the base and the tuned run

    python benchmarks/bench_serve.py [--tasks 1000] [--n 1024] [--pages 30] [--dir /tmp/leash-bench-serve]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyarrow as pa

from leash.store import GRADES, SAMPLES, TASKS, create_run
from leash.tasks import task_row

WRONG = 15  # distinct wrong answers per task
FIRST_PAGE = ("/", "/static/common.js", "/static/overview.js", "/static/style.css", "/api/overview",
              "/api/problems")  # fmt: skip
PROBLEM_PAGE = ("/problem?task={task}", "/api/problem?task={task}", "/api/samples?task={task}&run=0&limit=5",
                "/api/samples?task={task}&run=1&limit=5")  # fmt: skip


def write_run(path: Path, tasks: int, n: int, sharpen: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    run = create_run(path, {"model": path.name})
    rows = [task_row(f"t{i:04d}", dataset=f"set{i % 4}", prompt=f"Problem {i}: compute {i} * 7 + 3.")
            for i in range(tasks)]  # fmt: skip
    run.write_tasks(pa.Table.from_pylist(rows, schema=TASKS))
    base_rate = np.random.default_rng(1).beta(0.3, 0.6, size=tasks)
    rate = base_rate**sharpen / (base_rate**sharpen + (1 - base_rate) ** sharpen)
    answers = np.array([f"w{j}" for j in range(WRONG)] + ["right", "also-right"])
    vocab = np.array([f"w{j:x}" + "abcdefgh"[j % 8] * (j % 6) for j in range(2000)])
    per_shard = 100
    with run.lock("samples"), run.lock("grades/imported"):
        for start in range(0, tasks, per_shard):
            ids = np.arange(start, min(start + per_shard, tasks))
            correct = rng.random((len(ids), n)) < rate[ids, None]
            second = rng.random((len(ids), n)) < 0.1
            code = np.where(
                correct, np.where(second, WRONG + 1, WRONG), rng.integers(0, WRONG, (len(ids), n))
            )
            answer = answers[code.ravel()]
            task_ids = np.repeat([f"t{i:04d}" for i in ids], n)
            sample_idx = np.tile(np.arange(n, dtype=np.int64), len(ids))
            # ~30 random words each (from 2,000): texts that compress like real ones, not to nothing.
            words = vocab[rng.integers(0, len(vocab), (len(answer), 30))]
            texts = [f"<think>{' '.join(w)}</think> The answer is \\boxed{{{a}}}."
                     for w, a in zip(words.tolist(), answer.tolist(), strict=True)]  # fmt: skip
            run.append("samples", pa.table({
                "task_id": task_ids, "sample_idx": sample_idx, "seed": sample_idx, "text": texts,
                "n_tokens": np.full(len(texts), 60), "finish_reason": np.full(len(texts), "stop"),
            }, schema=SAMPLES))  # fmt: skip
            run.append("grades/imported", pa.table({
                "task_id": task_ids, "sample_idx": sample_idx, "correct": correct.ravel(),
                "score": correct.ravel().astype(np.float64), "answer": answer,
                "status": np.full(len(texts), "ok"), "detail": pa.nulls(len(texts), pa.string()),
            }, schema=GRADES))  # fmt: skip


def get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--pages", type=int, default=30, help="problem pages to time")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/leash-bench-serve"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    start = time.perf_counter()
    write_run(args.dir / "base", args.tasks, args.n, sharpen=1.0, seed=1)
    write_run(args.dir / "tuned", args.tasks, args.n, sharpen=2.0, seed=2)
    size = sum(f.stat().st_size for f in args.dir.rglob("*.parquet")) / 2**20
    print(f"wrote 2 runs x {args.tasks} tasks x {args.n} samples ({size:.0f} MiB of Parquet) "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "leash",
        "serve",
        str(args.dir / "base"),
        str(args.dir / "tuned"),
        "--port",
        str(port),
    ]
    start = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            try:
                get(url + "/static/style.css")
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit(server.stderr.read() if server.stderr else "leash serve exited")
                time.sleep(0.05)
        startup = time.perf_counter() - start
        first = sum(get(url + path) for path in FIRST_PAGE)
        shrink = get(url + "/api/problems?region=S&sort=rate_0&order=desc")
        with urllib.request.urlopen(url + "/api/problems?per_page=200") as response:
            tasks = [r["task_id"] for r in json.loads(response.read())["rows"]]
        rng = np.random.default_rng(0)
        times = []
        for task in rng.choice(tasks, size=min(args.pages, len(tasks)), replace=False):
            times.append(sum(get(url + path.format(task=task)) for path in PROBLEM_PAGE))
        rss, peak = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"startup (open the runs, compare them): {startup:.1f} s")
    print(f"first page: {first * 1000:.0f} ms (target < 1000 ms)")
    print(f"shrinkage filter, sorted: {shrink * 1000:.0f} ms")
    print(f"problem page over {len(times)} tasks: median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms (target < 300 ms)")  # fmt: skip
    print(f"server memory: RSS {rss:.0f} MiB now, peak {peak:.0f} MiB (target < 500 MB)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
