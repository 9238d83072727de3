"""leash's hf sampler vs calling transformers' `generate` directly, same batches, one run.

A random tiny Llama (4 layers, width 128, character tokenizer) on CPU, temperature
0.6, top-p 0.95, 64 new tokens, one prompt's samples per batch. Direct: `generate`
with do_sample=True. leash: the `hf` backend (seeded inverse-CDF sampler inside
`generate`), then the whole `sample_run` (planning, Parquet shards, run.json).
Tokens/s counts generated tokens (EOS included, padding excluded).

    python benchmarks/bench_sample.py [--batch 256] [--prompts 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from leash.lab.tiny import save_tiny_model
from leash.sampling import SamplingParams, sample_run
from leash.sampling.backend import Request
from leash.sampling.hf import HFBackend
from leash.sampling.params import sample_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    work = Path(tempfile.mkdtemp(prefix="leash-bench-sample-"))
    model_dir = save_tiny_model(work / "tiny", seed=0)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=args.max_tokens)
    backend = HFBackend(str(model_dir), params, device="cpu")
    model, tok = backend.model, backend.tokenizer
    prompts = [f"{i}+{i * 7}=" for i in range(args.prompts)]

    def direct() -> int:
        tokens = 0
        for prompt in prompts:
            ids = tok(prompt, add_special_tokens=False, return_tensors="pt").input_ids
            mask = torch.ones((args.batch, ids.shape[1]), dtype=torch.long)
            with torch.inference_mode():
                # top_k=0: transformers' default top_k=50 would sample another distribution.
                out = model.generate(
                    ids.expand(args.batch, -1), attention_mask=mask, do_sample=True, temperature=0.6,
                    top_p=0.95, top_k=0, max_new_tokens=args.max_tokens, pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )  # fmt: skip
            # A row's length runs to its last non-pad token (EOS included), as leash counts it.
            real = (out[:, ids.shape[1] :] != tok.pad_token_id).int()
            last = real.shape[1] - torch.argmax(real.flip(1), dim=1)
            tokens += int(torch.where(real.any(1), last, 0).sum())
        return tokens

    def leash_backend() -> int:
        tokens = 0
        for prompt in prompts:
            seeds = [sample_seed(0, prompt, i) for i in range(args.batch)]
            tokens += sum(c.n_tokens or 0 for c in backend.generate([Request(prompt, seeds)])[0])
        return tokens

    task_file = work / "tasks.jsonl"
    task_file.write_text(
        "".join(json.dumps({"task_id": f"p{i}", "prompt": p.rstrip()}) + "\n" for i, p in enumerate(prompts))
    )

    def leash_run() -> int:
        run = work / f"run-{time.time_ns()}"
        summary = sample_run(str(model_dir), f"file:{task_file}", args.batch, run, params=params,
                             batch_size=args.batch, chat_template=False)  # fmt: skip
        return summary.tokens

    direct()  # warm-up
    size = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"tiny Llama, {size:.2f}M parameters, {torch.get_num_threads()} threads; batch {args.batch}, "
          f"{args.prompts} prompts, {args.max_tokens} new tokens")  # fmt: skip
    results = {}
    for name, fn in (
        ("generate() direct", direct),
        ("leash hf backend", leash_backend),
        ("leash sample_run", leash_run),
    ):
        rates, counts = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            counts.append(fn())
            rates.append(counts[-1] / (time.perf_counter() - start))
        results[name] = sorted(rates)[len(rates) // 2]
        print(f"{name:>20}: {results[name]:9.0f} tokens/s (median of {args.repeats}; "
              f"{sum(counts) // len(counts)} tokens a pass)")  # fmt: skip
    base = results["generate() direct"]
    for name in ("leash hf backend", "leash sample_run"):
        print(f"{name} overhead vs direct generate(): {100 * (base / results[name] - 1):+.1f}%")


if __name__ == "__main__":
    main()
