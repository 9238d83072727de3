"""`leash sample --backend ray` with 1 and 2 replicas vs the local `hf` backend, one run.

A random tiny Llama (4 layers, width 128, character tokenizer) on CPU, temperature
0.6, top-p 0.95. Each configuration samples the same tasks into a fresh run; the
wall clock includes loading the model (and, for Ray, starting the actors: each
imports torch and loads the model), which is the overhead that matters for a short
job (torch and transformers are imported once before any timing). The Ray cluster
is local, started once before the timings (`ray.init`), with as many CPUs as the
machine; a replica reserves one CPU and runs torch on one thread (Ray sets
OMP_NUM_THREADS from it); the local backend runs with torch's default threads, then
with one.

    python benchmarks/bench_ray.py [--prompts 8] [-n 128] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from leash.lab.tiny import save_tiny_model
from leash.sampling import SamplingParams, sample_run
from leash.store import open_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("-n", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--unit", type=int, default=128, help="samples per Ray work unit")
    args = parser.parse_args()
    import ray

    work = Path(tempfile.mkdtemp(prefix="leash-bench-ray-"))
    model = str(save_tiny_model(work / "tiny", seed=0))
    tasks = work / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"task_id": f"p{i}", "prompt": f"{i}+{i * 7}="}) + "\n"
                             for i in range(args.prompts)))  # fmt: skip
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=args.max_tokens)
    import torch

    from leash.sampling.hf import load_model_and_tokenizer

    load_model_and_tokenizer(model, "cpu")  # imports paid before any timing, by no configuration
    threads = torch.get_num_threads()
    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    print(f"ray.init (local cluster, {os.cpu_count()} CPUs): {time.perf_counter() - start:.1f} s")

    results = {}
    for name, backend, options in (
        (f"local hf, {threads} thr", "hf", {}),
        ("local hf, 1 thread", "hf", {}),
        ("ray, 1 replica", "ray", {"replicas": 1}),
        ("ray, 2 replicas", "ray", {"replicas": 2}),
    ):
        torch.set_num_threads(1 if "1 thread" in name else threads)
        run = work / "".join(ch for ch in name if ch.isalnum())
        start = time.perf_counter()
        summary = sample_run(
            model, f"file:{tasks}", args.n, run, backend=backend, params=params, batch_size=args.batch,
            backend_options=options, flush_rows=args.unit,
        )  # fmt: skip
        wall = time.perf_counter() - start
        texts = {
            (r["task_id"], r["sample_idx"]): r["text"] for r in open_run(run).read("samples").to_pylist()
        }
        results[name] = (wall, summary.samples_added, summary.tokens, texts)
    ray.shutdown()

    base_wall, _, _, base_texts = results[f"local hf, {threads} thr"]
    print(f"{args.prompts} prompts x n={args.n}, {args.max_tokens} new tokens, batch {args.batch}, "
          f"units of {args.unit} samples; load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(
        f"{'configuration':<20} {'wall s':>7} {'samples/s':>10} {'tokens/s':>9} {'vs local':>9}  same texts"
    )
    for name, (wall, samples, tokens, texts) in results.items():
        print(f"{name:<20} {wall:7.1f} {samples / wall:10.1f} {tokens / wall:9.0f} "
              f"{base_wall / wall:8.2f}x  {texts == base_texts}")  # fmt: skip


if __name__ == "__main__":
    main()
