"""Grading 100,000 math completions: `leash grade` vs a plain Math-Verify loop, one run.

The script writes realistic completions: a long chain of thought (~2,000 characters
of prose with inline LaTeX) ending in \\boxed{...}; per task about 15% of the
completions carry distinct final answers (equivalent spellings of the gold, and
wrong values). `leash grade` grades all of them; the plain loop —
`verify(parse(gold), parse(completion))` per completion, Math-Verify's documented
use — grades a subset; verdicts are compared on that subset. Then the sandbox's cost
per test program (median of 30 runs of `print(1)`) beside a bare subprocess.

    python benchmarks/bench_grade.py [--tasks 500] [--per-task 200] [--subset 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from leash.grading import grade_run
from leash.grading.sandbox import probe, run_program
from leash.store import SAMPLES, TASKS, create_run
from leash.tasks import task_row

PROSE = [
    "Let us consider the expression $x^2 + {a}x + {b}$ and complete the square.",
    "Substituting $t = {a}$ gives ${a}^2 - {b} = {c}$, which is not yet what we want.",
    "By the triangle inequality, $|u + v| \\le |u| + |v|$, so the bound is at most ${c}$.",
    "We check the case $n = {a}$: the sum $\\sum_{{k=1}}^{{n}} k = \\frac{{n(n+1)}}{{2}}$ equals ${c}$.",
    "Hence the area is $\\frac{{{a}}}{{{b}}}$ times the base, which simplifies further.",
    "Wait, that is not right. Let me recompute: ${a} \\cdot {b} = {c}$.",
]


def gold_and_forms(rng: random.Random) -> tuple[str, list[str], list[str]]:
    """A gold answer, equivalent spellings of it, and wrong answers."""
    kind = rng.choice(["int", "frac", "sqrt", "interval"])
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    if kind == "int":
        return (
            str(a * b),
            [str(a * b), f"{a * b}.0", f"{a}\\cdot {b}"],
            [str(a * b + d) for d in (1, -1, 2, 10)],
        )
    if kind == "frac":
        return (
            f"\\frac{{{a}}}{{{b}}}",
            [f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{2 * a}}}{{{2 * b}}}", f"{a}/{b}"],
            [f"\\frac{{{b}}}{{{a + 1}}}", f"\\frac{{{a + 1}}}{{{b}}}", f"{a}/{b + 1}"],
        )
    if kind == "sqrt":
        return (
            f"{a}\\sqrt{{2}}",
            [f"{a}\\sqrt{{2}}", f"\\sqrt{{{2 * a * a}}}", f"{a}\\sqrt 2"],
            [f"{a}\\sqrt{{3}}", f"{a + 1}\\sqrt{{2}}", f"\\sqrt{{{a}}}"],
        )
    return f"({a}, {a + b}]", [f"({a}, {a + b}]", f"({a},{a + b}]"], [f"[{a}, {a + b}]", f"({a}, {a + b})"]


def completion(rng: random.Random, answer: str) -> str:
    parts = []
    while sum(len(p) for p in parts) < 2000:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        parts.append(rng.choice(PROSE).format(a=a, b=b, c=a * b))
    return " ".join(parts) + f"\n\nTherefore, the final answer is $\\boxed{{{answer}}}$."


def build(path: Path, tasks: int, per_task: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    run = create_run(path, {"model": "synthetic"})
    task_rows, samples, pairs = [], [], []
    for t in range(tasks):
        gold, right, wrong = gold_and_forms(rng)
        task_id = f"t{t:04d}"
        task_rows.append(
            task_row(task_id, dataset="bench", prompt="...", reference={"answer": gold}, verifier="math")
        )
        distinct = max(1, round(0.15 * per_task))
        # The pool of this task's final answers: spellings of the gold and wrong values, repeated.
        pool = [rng.choice(right + wrong) for _ in range(distinct)]
        for i in range(per_task):
            text = completion(rng, rng.choice(pool))
            samples.append({"task_id": task_id, "sample_idx": i, "seed": None, "text": text,
                            "n_tokens": None, "finish_reason": "stop"})  # fmt: skip
            pairs.append((gold, text))
    run.write_tasks(pa.Table.from_pylist(task_rows, schema=TASKS))
    for start in range(0, len(samples), 20_000):
        run.append("samples", pa.Table.from_pylist(samples[start : start + 20_000], schema=SAMPLES))
    return pairs


def plain_loop(pairs: list[tuple[str, str]]) -> tuple[list[bool], float]:
    from math_verify import parse, verify

    start = time.perf_counter()
    # Gold answers are bare LaTeX: Math-Verify reads them between $...$, as its README shows.
    verdicts = [bool(verify(parse(f"${gold}$"), parse(text))) for gold, text in pairs]
    return verdicts, time.perf_counter() - start


def sandbox_cost(runs: int = 30) -> tuple[float, float]:
    bare, boxed = [], []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "print(1)"], capture_output=True, check=True)
        bare.append(time.perf_counter() - start)
        boxed.append(run_program({"main.py": "print(1)"}, ["python", "-I", "-S", "main.py"]).seconds)
    return statistics.median(bare) * 1000, statistics.median(boxed) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--per-task", type=int, default=200)
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="leash-bench-grade-"))
    try:
        pairs = build(work / "run", args.tasks, args.per_task, seed=0)
        total = len(pairs)
        chars = sum(len(t) for _, t in pairs) // total
        print(f"{total} completions, {args.tasks} tasks, ~{chars} characters each")
        summary = grade_run(work / "run", workers=args.workers, timeout=10.0)
        ours = summary.graded / summary.seconds
        step = max(1, total // args.subset)
        subset_idx = list(range(0, total, step))[: args.subset]
        plain, seconds = plain_loop([pairs[i] for i in subset_idx])
        theirs = len(subset_idx) / seconds
        from leash.store import open_run

        grades = {
            (g["task_id"], g["sample_idx"]): g["correct"]
            for g in open_run(work / "run").read("grades/math").to_pylist()
        }
        per_task = args.per_task
        ours_subset = [grades[(f"t{i // per_task:04d}", i % per_task)] for i in subset_idx]
        disagree = sum(a != b for a, b in zip(ours_subset, plain, strict=True))
        print(
            f"leash grade ({args.workers} workers): {summary.graded} in {summary.seconds:.1f} s "
            f"= {ours:,.0f}/s; {summary.correct} correct; statuses {summary.by_verifier['math']}"
        )
        print(f"plain parse+verify loop:  {len(subset_idx)} in {seconds:.1f} s = {theirs:,.0f}/s")
        print(f"ratio: {ours / theirs:.1f}x; verdicts differing on the shared {len(subset_idx)}: {disagree}")
        bare, boxed = sandbox_cost()
        level = probe().level
        print(f"sandbox ({level}): {boxed:.1f} ms per test program (print(1)); bare subprocess {bare:.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
