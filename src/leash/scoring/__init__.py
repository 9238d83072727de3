"""`leash score RUN --model M`: log-probs and token entropy of every completion under a model.

One teacher-forced pass of prompt + completion per sample (batched, bucketed by
length). For the completion's tokens t_1..t_n, with p = softmax(logits / T):

    logprob_sum        = sum_i log p(t_i | prompt, t_<i)
    n_tokens           = n
    token_entropy_mean = (1/n) sum_i H(p(. | prompt, t_<i)),  H = -sum_v p_v ln p_v  (full vocabulary)

T = 1 (raw logits) unless `temperature` is given; it is stored with each row. The
scorer re-tokenises the stored text (prompt and completion separately, no special
tokens added), so any model can score any run; when its tokenizer is not the
sampler's, run.json says so. A sequence longer than the context is truncated
(completion tail first) and flagged. Shards go to scores/<model-slug>/; resumable.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from leash.cluster import RaySpec
from leash.errors import LeashError
from leash.store import SCORES, Run, arrow_batches, open_run, parquet_source

__all__ = ["RaySpec", "ScoreSummary", "encode_pairs", "model_slug", "score_run", "score_texts"]

Progress = Callable[[int, int, int], None]  # (scored, total, tokens)


@dataclass
class ScoreSummary:
    run: Path
    scorer: str
    scored: int
    total: int
    tokens: int
    seconds: float
    truncated: int
    empty: int


def model_slug(model: str) -> str:
    """A directory name for a scorer: a folder's name, or a hub id with '/' -> '--'."""
    path = Path(model)
    name = path.name if path.exists() else model.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip("-._") or "model"


def encode_pairs(
    tokenizer: Any, pairs: list[tuple[str, str]], context: int | None
) -> list[tuple[list[int], list[int], bool]]:
    """(prompt ids, completion ids, truncated) per pair, cut to `context` tokens as the hf scorer does."""
    encoded = []
    for prompt, completion in pairs:
        p = tokenizer(prompt, add_special_tokens=False).input_ids if prompt else []
        c = tokenizer(completion, add_special_tokens=False).input_ids if completion else []
        truncated = False
        if context is not None and len(p) + len(c) > context:
            truncated = True
            c = c[: max(0, context - len(p))]
            p = p[-context:] if len(p) > context else p
        encoded.append((list(p), list(c), truncated))
    return encoded


def score_texts(
    model: Any,
    tokenizer: Any,
    pairs: list[tuple[str, str]],
    temperature: float = 1.0,
    context: int | None = None,
) -> list[dict[str, Any]]:
    """Score (prompt, completion) pairs in one padded batch; one dict per pair."""
    import torch

    encoded = encode_pairs(tokenizer, pairs, context)
    width = max(len(p) + len(c) for p, c, _ in encoded)
    if width == 0:  # nothing to run the model on
        return [
            {"logprob_sum": 0.0, "n_tokens": 0, "token_entropy_mean": math.nan, "truncated": t}
            for *_, t in encoded
        ]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(pairs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (p, c, _) in enumerate(encoded):  # right padding: positions stay 0..len-1
        seq = p + c
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    logp = torch.log_softmax(logits / temperature, dim=-1)  # [B x T x V]
    results = []
    for row, (p, c, truncated) in enumerate(encoded):
        n = len(c)
        if n == 0 or not p:
            results.append({"logprob_sum": 0.0 if n == 0 else math.nan, "n_tokens": n,
                            "token_entropy_mean": math.nan, "truncated": truncated})  # fmt: skip
            continue
        # The prediction of token j sits at position j - 1.
        positions = torch.arange(len(p) - 1, len(p) + n - 1, device=logp.device)
        step = logp[row, positions]  # [n x V]
        target = torch.tensor(c, device=logp.device).unsqueeze(-1)
        token_logp = step.gather(1, target).squeeze(-1)
        entropy = -(step.exp() * step).sum(-1)
        results.append(
            {
                "logprob_sum": float(token_logp.sum()),
                "n_tokens": n,
                "token_entropy_mean": float(entropy.mean()),
                "truncated": truncated,
            }
        )
    return results


def _pending(run: Run, slug: str) -> tuple[Any, str, int]:
    import duckdb

    con = duckdb.connect()
    tasks = run.tasks_path
    if not tasks.exists():
        raise LeashError(f"run {run.path} has no tasks.parquet: prompts are needed to score")
    done = run.shards(f"scores/{slug}")
    skip = f"anti join {parquet_source(done)} d using (task_id, sample_idx)" if done else ""
    query = (
        f"select s.task_id, s.sample_idx, s.text, t.prompt from {parquet_source(run.shards('samples'))} s "
        f"join read_parquet('{tasks}') t using (task_id) {skip} "
        "order by length(t.prompt) + length(s.text)"
    )
    count = int(con.sql(f"select count(*) from ({query})").fetchall()[0][0])
    return con, query, count


def score_run(
    run_dir: str | Path,
    model: str,
    *,
    batch_size: int = 16,
    temperature: float = 1.0,
    device: str | None = None,
    dtype: str = "auto",
    progress: Progress | None = None,
    backend: str = "hf",
    backend_options: dict[str, Any] | None = None,
    executor: str = "local",
    ray: RaySpec | None = None,
) -> ScoreSummary:
    """Score every completion of the run not yet scored by `model`.

    backend: `hf` (transformers), `vllm` (offline engine) or `openai` (an OpenAI-compatible
    server's prompt log-probs); `backend_options` go to the last two (leash.scoring.vllm).
    executor: `local`, or `ray` (batches scored by `ray.replicas` Ray actors, each holding
    the scorer; docs/scale.md).
    """
    if executor not in ("local", "ray"):
        raise LeashError(f"--executor {executor}: choose local or ray")
    if temperature <= 0:
        raise LeashError(f"--temperature {temperature}: must be > 0")
    if batch_size < 1:
        raise LeashError(f"--batch-size {batch_size}: must be >= 1")
    run = open_run(run_dir)
    if not run.shards("samples"):
        raise LeashError(f"run {run.path} has no samples to score")
    slug = model_slug(model)
    cluster = None
    if executor == "ray":  # before anything is written: no Ray or a bad --address is one line
        from leash.cluster import connect

        spec = ray or RaySpec()
        cluster = (connect(spec), spec)
    with run.lock(f"scores/{slug}"):  # one writer per scores table, held to the end
        run.keys("samples")  # a duplicated sample is an error, not two scores
        run.check_unique(f"scores/{slug}")
        if cluster is not None:
            from leash.scoring.ray import score_on_ray

            options = {"backend": backend, "model": model, "temperature": temperature, "device": device,
                       "dtype": dtype, "options": backend_options or {}}  # fmt: skip
            start = time.perf_counter()
            con, query, total = _pending(run, slug)
            batches = (b.to_pylist() for b in arrow_batches(con.sql(query), batch_size * 64))
            counts, entropy = score_on_ray(cluster, run, slug, batches, options, batch_size, total, progress)
            return _record(run, model, slug, backend, temperature, entropy, counts, total, start)
        scorer = _scorer(backend, model, temperature, device, dtype, backend_options or {})
        try:
            return _score_locked(run, model, slug, scorer, backend, batch_size, temperature, progress)
        finally:
            scorer.close()


def score_rows(scorer: Any, rows: list[dict[str, Any]], batch_size: int, temperature: float) -> list[dict]:
    """The scores rows of `rows` ({task_id, sample_idx, text, prompt}), `batch_size` at a time."""
    out = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        results = scorer.score([(r["prompt"] or "", r["text"] or "") for r in chunk])
        for r, res in zip(chunk, results, strict=True):
            key = {"task_id": r["task_id"], "sample_idx": r["sample_idx"]}
            out.append({**key, **res, "temperature": temperature})
    return out


def _score_locked(
    run: Run,
    model: str,
    slug: str,
    scorer: Any,
    backend: str,
    batch_size: int,
    temperature: float,
    progress: Progress | None,
) -> ScoreSummary:
    """Score the pending samples and record the scorer; the caller holds the scores lock."""
    con, query, total = _pending(run, slug)
    start = time.perf_counter()
    counts = {"scored": 0, "tokens": 0, "truncated": 0, "empty": 0}
    # Rows come ordered by length, so each batch holds sequences of similar length.
    for batch in arrow_batches(con.sql(query), batch_size * 64):
        rows = batch.to_pylist()
        out = score_rows(scorer, rows, batch_size, temperature)
        run.append(f"scores/{slug}", pa.Table.from_pylist(out).cast(_SCORE_ROW))
        for key, value in tally(out).items():
            counts[key] += value
        if progress is not None:
            progress(counts["scored"], total, counts["tokens"])
    return _record(run, model, slug, backend, temperature, scorer.entropy, counts, total, start)


def tally(out: list[dict[str, Any]]) -> dict[str, int]:
    """Rows, tokens, truncated and empty completions among scores rows."""
    return {
        "scored": len(out),
        "tokens": sum(r["n_tokens"] for r in out),
        "truncated": sum(bool(r["truncated"]) for r in out),
        "empty": sum(r["n_tokens"] == 0 for r in out),
    }


def _record(
    run: Run, model: str, slug: str, backend: str, temperature: float, entropy: str,
    counts: dict[str, int], total: int, start: float,
) -> ScoreSummary:  # fmt: skip
    """Add this call's counts to run.json's scoring block; the summary."""
    scored, tokens, truncated, empty = (counts[k] for k in ("scored", "tokens", "truncated", "empty"))
    seconds = time.perf_counter() - start
    sampler = run.meta().get("sampling", {}).get("model")
    same_tokenizer = sampler is not None and Path(sampler).resolve() == Path(model).resolve()
    previous = run.meta().get("scoring", {}).get(slug, {})
    run.update_meta(
        {
            "scoring": {
                slug: {
                    "model": model,
                    "temperature": temperature,
                    "scored": previous.get("scored", 0) + scored,
                    "truncated": previous.get("truncated", 0) + truncated,
                    "tokenizer": "the sampler's" if same_tokenizer else "re-tokenised with the scorer's own",
                    "backend": backend,
                    "entropy": entropy,
                }
            }
        }
    )
    return ScoreSummary(run.path, slug, scored, total, tokens, seconds, truncated, empty)


class _HFScorer:
    """The transformers scorer behind `score_texts` (full-vocabulary entropy)."""

    entropy = "full vocabulary"

    def __init__(self, model: str, temperature: float, device: str | None, dtype: str) -> None:
        from leash.sampling.hf import load_model_and_tokenizer

        self.lm, self.tokenizer = load_model_and_tokenizer(model, device, dtype)
        self.temperature = temperature
        self.context = getattr(self.lm.config, "max_position_embeddings", None)

    def score(self, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return score_texts(self.lm, self.tokenizer, pairs, self.temperature, self.context)

    def close(self) -> None:
        pass


def _scorer(
    backend: str, model: str, temperature: float, device: str | None, dtype: str, options: dict[str, Any]
) -> Any:
    """The scorer of `backend`: .score(pairs) -> rows, .entropy (what token_entropy_mean holds), .close()."""
    if backend == "hf":
        return _HFScorer(model, temperature, device, dtype)
    if backend == "vllm":
        from leash.scoring.vllm import VLLMScorer

        return VLLMScorer(model, temperature, dtype=dtype, **options)
    if backend == "openai":
        from leash.scoring.openai_api import OpenAIScorer

        return OpenAIScorer(model, temperature, **options)
    raise LeashError(f"--backend {backend}: choose hf, vllm or openai")


_SCORE_ROW = pa.schema(
    [*SCORES, ("truncated", pa.bool_()), ("temperature", pa.float64())]  # extra columns after the contract's
)
