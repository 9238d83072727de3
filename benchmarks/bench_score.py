"""Scoring throughput on the tiny model (CPU): batched teacher forcing vs one sequence at a time.

256 (prompt, completion) pairs of 20-200 characters, sorted by length as `leash
score` buckets them; tokens/s counts completion tokens scored.

    python benchmarks/bench_score.py [--pairs 256] [--batch 16]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch

from leash.lab.tiny import save_tiny_model
from leash.sampling.hf import load_model_and_tokenizer
from leash.scoring import score_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    model_dir = save_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    model, tok = load_model_and_tokenizer(str(model_dir), "cpu")
    rng = random.Random(0)
    letters = "abcdefghij0123456789+-*= "
    pairs = [
        (f"{i}+{i}=", "".join(rng.choice(letters) for _ in range(rng.randint(20, 200))))
        for i in range(args.pairs)
    ]
    pairs.sort(key=lambda p: len(p[0]) + len(p[1]))
    tokens = sum(len(tok(c, add_special_tokens=False).input_ids) for _, c in pairs)
    threads = torch.get_num_threads()
    print(f"tiny Llama on CPU ({threads} threads), {args.pairs} sequences, {tokens} completion tokens")
    for name, size in (("one at a time", 1), (f"batched ({args.batch})", args.batch)):
        start = time.perf_counter()
        for i in range(0, len(pairs), size):
            score_texts(model, tok, pairs[i : i + size])
        seconds = time.perf_counter() - start
        print(f"{name:>16}: {tokens / seconds:9.0f} tokens/s ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
