"""`leash compare` on two runs of 1,000 tasks x 16,384 samples: wall time and peak memory.

The runs are written straight into run directories with `leash.store`, in the layout
`leash import` produces (grades with canonical answers, tasks with 4 datasets); the
completion texts are not needed by compare and are left out to save disk. The
command then runs as a user would run it, under /usr/bin/time for peak RSS.

    python benchmarks/bench_compare.py [--tasks 1000] [--n 16384] [--dir /tmp/leash-bench]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from leash.store import GRADES, TASKS, create_run
from leash.tasks import task_row

WRONG_ANSWERS = 15  # distinct wrong answers per task


def write_run(path: Path, tasks: int, n: int, sharpen: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    run = create_run(path, {"model": path.name})
    run.write_tasks(
        pa.Table.from_pylist(
            [task_row(f"t{i:04d}", dataset=f"set{i % 4}") for i in range(tasks)], schema=TASKS
        )
    )
    base_rate = np.random.default_rng(1).beta(0.3, 0.6, size=tasks)
    # "Tuned": rates pushed towards 0 or 1 (sharpened), as RLVR tends to do.
    rate = base_rate**sharpen / (base_rate**sharpen + (1 - base_rate) ** sharpen)
    labels = np.array([f"w{j}" for j in range(WRONG_ANSWERS)] + ["right", "also-right"])
    per_shard = 100
    for start in range(0, tasks, per_shard):
        ids = np.arange(start, min(start + per_shard, tasks))
        correct = rng.random((len(ids), n)) < rate[ids, None]
        second = rng.random((len(ids), n)) < 0.1  # a rarer second correct form
        wrong = rng.integers(0, WRONG_ANSWERS, size=(len(ids), n))
        code = np.where(correct, np.where(second, WRONG_ANSWERS + 1, WRONG_ANSWERS), wrong)
        run.append(
            "grades/imported",
            pa.table(
                {
                    "task_id": np.repeat([f"t{i:04d}" for i in ids], n),
                    "sample_idx": np.tile(np.arange(n, dtype=np.int64), len(ids)),
                    "correct": correct.ravel(),
                    "score": correct.ravel().astype(np.float64),
                    "answer": labels[code.ravel()],
                    "status": np.full(len(ids) * n, "ok"),
                    "detail": pa.nulls(len(ids) * n, pa.string()),
                },
                schema=GRADES,
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/leash-bench-compare"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    start = time.perf_counter()
    write_run(args.dir / "base", args.tasks, args.n, sharpen=1.0, seed=1)
    write_run(args.dir / "tuned", args.tasks, args.n, sharpen=2.0, seed=2)
    print(f"wrote 2 runs x {args.tasks} tasks x {args.n} samples in {time.perf_counter() - start:.1f} s")

    leash = Path(sys.executable).with_name("leash")
    command = ["/usr/bin/time", "-v", str(leash), "compare", str(args.dir / "base"), str(args.dir / "tuned"),
               "--out", str(args.dir / "compare")]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    print(f"leash compare: {wall:.1f} s wall, peak RSS {rss_kb / 1024:.0f} MiB (targets: < 30 s, < 2048 MiB)")


if __name__ == "__main__":
    main()
