"""Perplexity and entropy blocks of compare.json, from scores/<model>/ (leash score).

    PPL(sequence) = exp(-logprob_sum / n_tokens)      per sequence, then averaged over sequences

split by the problem's support region and by correctness; and the Invisible Leash's
Table 3 layout: avg@n, token entropy (mean over samples of the mean per-token
entropy, under the run's own model) and answer entropy, per dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from leash.compare.load import RunGrades
from leash.scoring import model_slug
from leash.store import parquet_source, to_arrow

__all__ = ["entropy_table", "perplexity_blocks"]

DEFINITION = "PPL = exp(-logprob_sum / n_tokens) per sequence, averaged over sequences"


def _scored(grades: RunGrades, scorer: str, problems: pa.Table) -> duckdb.DuckDBPyRelation:
    grades.run.check_unique(f"scores/{scorer}")  # a score stored twice must not be averaged twice
    con = duckdb.connect()
    con.register("problems", problems)
    scores = parquet_source(grades.run.shards(f"scores/{scorer}"))
    verdicts = parquet_source(grades.run.shards(f"grades/{grades.grader}"))
    return con.sql(
        f"""
        select p.region, p.dataset, coalesce(g.correct, false) as correct,
               exp(-s.logprob_sum / s.n_tokens) as ppl, s.token_entropy_mean as entropy
        from {scores} s join {verdicts} g using (task_id, sample_idx) join problems p using (task_id)
        where s.n_tokens > 0 and s.logprob_sum is not null
        """
    )


def _mean(relation: duckdb.DuckDBPyRelation, column: str, where: str = "true") -> float | None:
    """The mean over sorted values: DuckDB's threads deliver rows in any order and a float sum
    depends on it, so sorting first makes the same data give the same bits every time."""
    rows = to_arrow(relation.filter(f"({where}) and {column} is not null").select(column))
    values = np.sort(rows.column(0).to_numpy())
    return float(values.sum() / len(values)) if len(values) else None


def perplexity_blocks(runs: dict[str, RunGrades], problems: pa.Table) -> dict[str, Any]:
    """{side: {scorer: {all, correct, incorrect, by_region, sequences}}} for every scorer of each run."""
    out: dict[str, Any] = {"definition": DEFINITION}
    for side, grades in runs.items():
        blocks = {}
        for scorer in grades.run.names("scores"):
            rel = _scored(grades, scorer, problems)
            blocks[scorer] = {
                "all": _mean(rel, "ppl"),
                "correct": _mean(rel, "ppl", "correct"),
                "incorrect": _mean(rel, "ppl", "not correct"),
                "by_region": {r: _mean(rel, "ppl", f"region = '{r}'") for r in ("P", "S", "E", "O")},
                "sequences": int(rel.aggregate("count(*)").fetchall()[0][0]),
            }
        out[side] = blocks
    return out


def _own_scorer(grades: RunGrades) -> str | None:
    """The scorer that is the run's own sampling model, else the only scorer, else None."""
    names = grades.run.names("scores")
    model = grades.run.meta().get("sampling", {}).get("model") or grades.run.meta().get("model")
    if model is not None and model_slug(str(model)) in names:
        return model_slug(str(model))
    if model is not None and Path(str(model)).name in names:
        return Path(str(model)).name
    return names[0] if len(names) == 1 else None


def entropy_table(
    runs: dict[str, RunGrades], problems: pa.Table, answer_entropy: dict[str, np.ndarray | None]
) -> dict[str, Any]:
    """{side: {"scorer", "all": {...}, "<dataset>": {avg_at_n, token_entropy, answer_entropy}}}."""
    datasets = problems["dataset"].to_pylist()
    names = sorted(set(datasets))
    out: dict[str, Any] = {}
    for side, grades in runs.items():
        scorer = _own_scorer(grades)
        rel = _scored(grades, scorer, problems) if scorer else None
        h = answer_entropy[side]
        block: dict[str, Any] = {"scorer": scorer}
        for name in ["all", *names]:
            rows = np.arange(len(datasets)) if name == "all" else np.flatnonzero(np.array(datasets) == name)
            block[name] = {
                "avg_at_n": float(np.mean(grades.c[rows] / grades.n[rows])),
                "token_entropy": None
                if rel is None
                else _mean(rel, "entropy", "true" if name == "all" else f"dataset = '{name}'"),
                "answer_entropy": None if h is None else float(np.mean(h[rows])),
            }
        out[side] = block
    return out
