"""Perplexity means must not depend on the order DuckDB's threads deliver rows in."""

import duckdb
import numpy as np
import pyarrow as pa

from leash.compare.scores import _mean


def test_mean_is_the_same_for_any_row_order():
    rng = np.random.default_rng(0)
    values = rng.lognormal(1.0, 2.0, 10_000)
    con = duckdb.connect()
    means = set()
    for _ in range(5):
        shuffled = pa.table({"ppl": rng.permutation(values)})
        means.add(_mean(con.from_arrow(shuffled), "ppl"))
    assert len(means) == 1
    assert abs(means.pop() - float(np.mean(values))) < 1e-12 * float(np.mean(values))


def test_mean_skips_nulls_and_is_none_when_empty():
    con = duckdb.connect()
    rel = con.from_arrow(pa.table({"x": pa.array([1.0, None, 3.0])}))
    assert _mean(rel, "x") == 2.0
    assert _mean(rel, "x", "x > 10") is None
