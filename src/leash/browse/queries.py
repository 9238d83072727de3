"""What the browser's pages ask for: DuckDB queries over the run directories.

`open_browser(paths)` opens the runs once (views over their shards in one in-memory DuckDB, the
comparison of the base with each other run); the functions below answer one request each and
return JSON-safe dicts. Every id a request names is checked: a bad one is a `NotFound`.

The numbers honour the runs' labels as `leash compare` does; a new label reaches the overview
and the problem list on the next request (the comparison is recomputed when a labels.parquet
changes), and the problem page at once.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from leash.browse.labels import LABEL_KINDS, add_label, latest_labels, verdict_after
from leash.compare import compare_runs
from leash.compare.load import choose_grader, graded_task_ids, load_run_grades
from leash.compare.markdown import labels_line, short_name
from leash.errors import LeashError
from leash.metrics import REGIONS, pass_at_k, region_probabilities
from leash.store import Run, open_run, parquet_source

__all__ = [
    "Browser",
    "NotFound",
    "add_sample_label",
    "open_browser",
    "overview",
    "problem",
    "problems",
    "samples",
]

SORTS = ("task_id", "dataset", "region", "q", "rate")  # rate_<i>: run i's c/n
SIGNIFICANCE = ("", "significant", "shrinkage", "expansion")
EXAMPLES = 2  # example completions per lost solution
TOP_TUNED = 3  # the tuned model's most common answers shown beside the lost solutions
MAX_PAGE = 200
_TASK_COLUMNS = pa.schema([(name, pa.string()) for name in ("task_id", "dataset", "prompt", "reference")])


class NotFound(LeashError):
    """A request named a task, run or sample that does not exist (HTTP 404)."""


class BadRequest(LeashError):
    """A request parameter out of range or of the wrong kind (HTTP 400)."""


@dataclass
class Browser:
    """The runs being browsed (runs[0] is the base) and what is computed once for them."""

    runs: list[Run]
    graders: list[str]
    task_ids: list[str]  # the tasks every run has graded, sorted
    con: duckdb.DuckDBPyConnection  # views samples_<i>, grades_<i>, scores_<i>; table tasks
    has_scores: list[bool]
    intersect: bool
    alpha: float
    n_boot: int
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # base vs runs[j], j >= 1
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # n_<i>, c_<i> aligned on task_ids
    q_values: list[np.ndarray] = field(default_factory=list)  # per pair, aligned on task_ids
    stamp: tuple[float, ...] = ()  # labels.parquet mtimes the numbers were computed with
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def names(self) -> list[str]:
        return [short_name(r.meta(), r.path.name) for r in self.runs]

    @property
    def k_max(self) -> int:
        return int(min(self.counts[f"n_{i}"].min() for i in range(len(self.runs))))


def _label_stamp(runs: list[Run]) -> tuple[float, ...]:
    return tuple(r.labels_path.stat().st_mtime_ns if r.labels_path.exists() else 0.0 for r in runs)


def open_browser(
    paths: list[str | Path], grader: str | None = None, intersect: bool = False, alpha: float = 0.05,
    n_boot: int = 200,
) -> Browser:  # fmt: skip
    """Open the runs (the first is the base); refuses runs whose graded tasks differ unless `intersect`."""
    if not paths:
        raise LeashError("give at least one run directory (the first is the base)")
    runs = [open_run(p) for p in paths]
    graders = [choose_grader(r, grader) for r in runs]
    sets = [set(graded_task_ids(r, g)) for r, g in zip(runs, graders, strict=True)]
    shared = sorted(set.intersection(*sets))
    for run, ids in zip(runs[1:], sets[1:], strict=True):
        if ids != sets[0] and not intersect:
            raise LeashError(
                f"run {run.path} grades {len(ids)} tasks and the base {runs[0].path} {len(sets[0])}, "
                f"{len(ids ^ sets[0])} of them not in both; "
                f"pass --intersect to browse the {len(shared)} shared ones"
            )
    if not shared:
        raise LeashError("the runs share no graded task; nothing to browse")
    con = duckdb.connect()
    con.execute("set parquet_metadata_cache = true")  # a problem page reads a few row groups only
    has_scores = []
    for i, (run, g) in enumerate(zip(runs, graders, strict=True)):
        run.check_unique("samples")
        samples = run.shards("samples")
        if samples:
            con.execute(f"create view samples_{i} as select * from {parquet_source(samples)}")
        else:
            con.execute(f"create view samples_{i} as select * from (select null::varchar as task_id, "
                        "null::bigint as sample_idx, null::varchar as text, null::bigint as n_tokens, "
                        "null::varchar as finish_reason) where false")  # fmt: skip
        con.execute(f"create view grades_{i} as select * from {parquet_source(run.shards(f'grades/{g}'))}")
        parts = []
        for scorer in run.names("scores"):
            run.check_unique(f"scores/{scorer}")
            source = parquet_source(run.shards(f"scores/{scorer}"))
            parts.append(
                f"select '{scorer}' as scorer, task_id, sample_idx, logprob_sum, n_tokens, "
                f"token_entropy_mean from {source}"
            )
        has_scores.append(bool(parts))
        if parts:
            con.execute(f"create view scores_{i} as " + " union all ".join(parts))
    wanted, tasks = set(shared), {}
    for run in reversed(runs):  # the base's own prompt wins
        for row in run.read_tasks().select(["task_id", "dataset", "prompt", "reference"]).to_pylist():
            if row["task_id"] in wanted:
                tasks[row["task_id"]] = row
    known = [tasks.get(t, {"task_id": t, "dataset": None, "prompt": None, "reference": None}) for t in shared]
    con.register("known_tasks", pa.Table.from_pylist(known, schema=_TASK_COLUMNS))
    con.execute("create table tasks as select * from known_tasks")
    con.unregister("known_tasks")
    browser = Browser(runs, graders, shared, con, has_scores, intersect, alpha, n_boot)
    _refresh(browser)
    return browser


def _refresh(b: Browser) -> None:
    """Recompute the comparisons and counts when a run's labels changed since the last time."""
    stamp = _label_stamp(b.runs)
    with b.lock:
        if stamp == b.stamp:
            return
        comparisons, counts, q_values = [], {}, []
        base = load_run_grades(b.runs[0], b.graders[0], b.task_ids)
        counts["n_0"], counts["c_0"] = base.n, base.c
        for j, run in enumerate(b.runs[1:], start=1):
            result = compare_runs(
                b.runs[0].path, run.path, intersect=True, grader=None if b.graders[0] != b.graders[j]
                else b.graders[0], n_boot=b.n_boot, alpha=b.alpha,
            )  # fmt: skip
            comparisons.append(result)
            by_task = {p["task_id"]: p for p in result["problems"]}
            rows = [by_task[t] for t in b.task_ids]
            counts[f"n_{j}"] = np.array([p["n_tuned"] for p in rows], dtype=np.int64)
            counts[f"c_{j}"] = np.array([p["c_tuned"] for p in rows], dtype=np.int64)
            q_values.append(np.array([np.nan if p["q_value"] is None else p["q_value"] for p in rows]))
        b.comparisons, b.counts, b.q_values, b.stamp = comparisons, counts, q_values, stamp


def _run_info(b: Browser, i: int) -> dict[str, Any]:
    run = b.runs[i]
    meta = run.meta()
    info = {
        "index": i,
        "name": b.names[i],
        "path": str(run.path),
        "model": meta.get("model"),
        "grader": b.graders[i],
        "role": "base" if i == 0 else "tuned",
        "samples": int(b.counts[f"n_{i}"].sum()),
        "scores": b.has_scores[i],
    }
    return info


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    se, sup = result["se_gap"], result["support"]["problem"]
    return {
        "k_max": se["k_max"],
        "pass_at_1": se["pass_at_1"],
        "pass_at_k_max": se["pass_at_k_max"],
        "se_gap": {"base": se["base"], "tuned": se["tuned"]},
        "delta_se": se["delta_se"],
        "crossover_k": result["pass_at_k"]["crossover_k"],
        "support": {key: sup[key] for key in ("k", "P", "S", "E", "O", "SRR", "NDR", "SDS", "NSCR")},
        "shrinkage": len(result["significance"]["shrinkage"]),
        "expansion": len(result["significance"]["expansion"]),
        "labels": {side: labels_line(result["runs"][side]) for side in ("base", "tuned")},
    }


def overview(b: Browser) -> dict[str, Any]:
    """The runs, the headline of each comparison, the pass@k curves and the filter choices."""
    _refresh(b)
    ks = [2**i for i in range(int(math.log2(max(b.k_max, 1))) + 1)]
    ks += [b.k_max] if b.k_max not in ks else []
    curves = []
    for i in range(len(b.runs)):
        curve = pass_at_k(b.counts[f"n_{i}"], b.counts[f"c_{i}"], ks).mean(axis=0)
        curves.append({"name": b.names[i], "values": [float(v) for v in curve]})
    datasets = [r[0] for r in b.con.cursor().sql("select distinct dataset from tasks order by 1").fetchall()]
    return {
        "runs": [_run_info(b, i) for i in range(len(b.runs))],
        "problems": len(b.task_ids),
        "k_max": b.k_max,
        "alpha": b.alpha,
        "datasets": [d for d in datasets if d is not None],
        "pairs": [{"tuned": j + 1, **_headline(r)} for j, r in enumerate(b.comparisons)],
        "curve": {"k": ks, "series": curves},
    }


def _int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name}={value!r}: give an integer") from None
    if not lo <= number <= hi:
        raise BadRequest(f"{name}={number}: must be between {lo} and {hi}")
    return number


def problems(b: Browser, params: dict[str, str]) -> dict[str, Any]:
    """One page of the problem list, filtered (region, dataset, significance, text) and sorted."""
    _refresh(b)
    pairs = len(b.runs) - 1
    vs = _int(params.get("vs"), "vs", 1 if pairs else 0, 1 if pairs else 0, pairs)
    k = _int(params.get("k"), "k", b.k_max, 1, b.k_max)
    page = _int(params.get("page"), "page", 1, 1, 10**9)
    per_page = _int(params.get("per_page"), "per_page", 50, 1, MAX_PAGE)
    columns: dict[str, Any] = {"task_id": b.task_ids}
    for i in range(len(b.runs)):
        columns[f"n_{i}"], columns[f"c_{i}"] = b.counts[f"n_{i}"], b.counts[f"c_{i}"]
    if vs:
        n0, c0, nv, cv = (b.counts[key] for key in ("n_0", "c_0", f"n_{vs}", f"c_{vs}"))
        regions = region_probabilities(n0, c0, nv, cv, k)
        columns["region"] = [REGIONS[int(r)] for r in np.argmax(regions, axis=1)]
        columns["q"] = b.q_values[vs - 1]
    else:
        columns["region"] = pa.nulls(len(b.task_ids), pa.string())
        columns["q"] = np.full(len(b.task_ids), np.nan)
    where, args = ["true"], []
    region = params.get("region", "")
    if region:
        if region not in REGIONS or not vs:
            raise BadRequest(f"region={region!r}: use one of {', '.join(REGIONS)} (with two or more runs)")
        where.append("region = ?")
        args.append(region)
    if params.get("dataset"):
        where.append("t.dataset = ?")
        args.append(params["dataset"])
    sig = params.get("significance", "")
    if sig not in SIGNIFICANCE or (sig and not vs):
        raise BadRequest(f"significance={sig!r}: use one of {', '.join(s for s in SIGNIFICANCE if s)}")
    if sig:
        where.append(f"q < {float(b.alpha)}")
        if sig != "significant":
            op = ">" if sig == "shrinkage" else "<"
            where.append(f"c_0::double / n_0 {op} c_{vs}::double / n_{vs}")
    text = params.get("text", "").strip()
    if text:
        where.append(
            "(contains(lower(task_id), lower(?)) or contains(lower(coalesce(t.prompt, '')), lower(?)))"
        )
        args += [text, text]
    sort = params.get("sort", "task_id")
    if sort.startswith("rate_"):
        run = _int(sort[5:], "sort", 0, 0, len(b.runs) - 1)
        order_by = f"c_{run}::double / n_{run}"
    elif sort in SORTS[:4]:
        order_by = {"dataset": "t.dataset"}.get(sort, sort)
    else:
        raise BadRequest(f"sort={sort!r}: use one of {', '.join(SORTS[:4])} or rate_<run>")
    order = params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise BadRequest(f"order={order!r}: use asc or desc")
    cur = b.con.cursor()
    cur.register("numbers", pa.table(columns))
    query = "from numbers p join tasks t using (task_id) where " + " and ".join(where)
    total = cur.execute(f"select count(*) {query}", args).fetchall()[0][0]
    rows = cur.execute(
        f"select p.*, t.dataset {query} order by {order_by} {order} nulls last, task_id "
        f"limit {per_page} offset {(page - 1) * per_page}",
        args,
    ).fetchall()
    names = [d[0] for d in cur.description]
    out = []
    for row in rows:
        r = dict(zip(names, row, strict=True))
        q = r["q"]
        out.append({
            "task_id": r["task_id"],
            "dataset": r["dataset"],
            "region": r["region"],
            "q": None if q is None or not math.isfinite(q) else float(q),
            "n": [int(r[f"n_{i}"]) for i in range(len(b.runs))],
            "c": [int(r[f"c_{i}"]) for i in range(len(b.runs))],
        })  # fmt: skip
    return {"total": int(total), "page": page, "per_page": per_page, "k": k, "vs": vs, "rows": out}


def _check_task(b: Browser, task_id: str | None) -> str:
    if not task_id:
        raise BadRequest("give the task: ?task=TASK_ID")
    i = int(np.searchsorted(np.array(b.task_ids, dtype=object), task_id))
    if i >= len(b.task_ids) or b.task_ids[i] != task_id:
        raise NotFound(f"no task {task_id!r} in the runs being browsed ({len(b.task_ids)} tasks)")
    return task_id


def _check_run(b: Browser, value: str | int | None) -> int:
    try:
        i = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadRequest(f"run={value!r}: give the run's index (0 is the base)") from None
    if not 0 <= i < len(b.runs):
        raise NotFound(f"no run {i}: the runs are 0 (base) to {len(b.runs) - 1}")
    return i


def _verdicts(b: Browser, i: int, task_id: str) -> list[dict[str, Any]]:
    """Every sample of one task in run i: sample_idx, answer, grader's verdict, verdict after labels."""
    rows = (
        b.con.cursor()
        .execute(
            f"select sample_idx, answer, correct from grades_{i} where task_id = ? order by sample_idx",
            [task_id],
        )
        .fetchall()
    )
    labels = latest_labels(b.runs[i], task_id)
    out = []
    for idx, answer, correct in rows:
        label = labels.get(idx, {})
        verdict = verdict_after(label.get("label"), label.get("graded"), correct)
        out.append({"sample_idx": idx, "answer": answer, "correct": correct, "verdict": verdict})
    return out


def _classes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct final answers with counts; correct (after labels) first, then the most common."""
    counts = Counter(r["answer"] for r in rows)
    right = Counter(r["answer"] for r in rows if r["verdict"])
    classes = [
        {"answer": a, "count": m, "correct": right[a] > 0, "correct_count": right[a]}
        for a, m in counts.items()
    ]
    return sorted(
        classes, key=lambda c: (not c["correct"], -c["count"], c["answer"] is None, str(c["answer"]))
    )


def _sample_rows(b: Browser, i: int, task_id: str, indices: list[int]) -> list[dict[str, Any]]:
    """Full samples (text, grade, scores, label) of run i, in the order of `indices`."""
    if not indices:
        return []
    cur = b.con.cursor()
    # Filters on each view, not through a join: DuckDB then prunes shards and row groups by task_id
    # and reads the texts of these samples only (a join scanned every text: 75 ms instead of 9).
    wanted = ", ".join(str(int(i)) for i in indices)
    rows = cur.execute(
        f"""
        with g as (select sample_idx, correct, answer, status, detail, score from grades_{i}
                   where task_id = $task and sample_idx in ({wanted})),
             s as (select sample_idx, text, n_tokens, finish_reason from samples_{i}
                   where task_id = $task and sample_idx in ({wanted}))
        select g.sample_idx, s.text, s.n_tokens, s.finish_reason, g.correct, g.answer, g.status,
               g.detail, g.score
        from g left join s using (sample_idx)
        """,
        {"task": task_id},
    ).fetchall()
    names = [d[0] for d in cur.description]
    found = {r[0]: dict(zip(names, r, strict=True)) for r in rows}
    scores: dict[int, list[dict[str, Any]]] = {}
    if b.has_scores[i]:
        for scorer, idx, lp, n, h in cur.execute(
            f"select scorer, sample_idx, logprob_sum, n_tokens, token_entropy_mean from scores_{i} "
            f"where task_id = ? and sample_idx in ({wanted}) order by scorer",
            [task_id],
        ).fetchall():
            scores.setdefault(idx, []).append(
                {"scorer": scorer, "logprob_sum": _num(lp), "n_tokens": n, "token_entropy_mean": _num(h)}
            )
    labels = latest_labels(b.runs[i], task_id)
    out = []
    for idx in indices:
        if idx not in found:
            continue
        row = found[idx]
        label = labels.get(idx, {})
        row.update(
            run=i,
            task_id=task_id,
            score=_num(row["score"]),
            verdict=verdict_after(label.get("label"), label.get("graded"), row["correct"]),
            label=label.get("label"),
            note=label.get("note"),
            scores=scores.get(idx, []),
        )
        out.append(row)
    return out


def _num(value: Any) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def problem(b: Browser, task_id: str | None, vs_param: str | None = None) -> dict[str, Any]:
    """A problem page: the task, each run's answers, and the correct answers the base found and
    the run `vs` (default 1) never did, with example completions beside vs's most common answers."""
    task_id = _check_task(b, task_id)
    pairs = len(b.runs) - 1
    vs = _int(vs_param, "vs", 1 if pairs else 0, 1 if pairs else 0, pairs)
    task = b.con.cursor().execute("select * from tasks where task_id = ?", [task_id]).fetchall()[0]
    reference: Any = task[3]
    try:
        reference = json.loads(task[3]) if task[3] else None
    except ValueError:
        pass
    verdicts = [_verdicts(b, i, task_id) for i in range(len(b.runs))]
    classes = [_classes(v) for v in verdicts]
    runs = [
        {
            "index": i,
            "name": b.names[i],
            "n": len(v),
            "c": sum(r["verdict"] for r in v),
            "answers": classes[i],
        }
        for i, v in enumerate(verdicts)
    ]
    lost: list[dict[str, Any]] = []
    tuned_top: list[dict[str, Any]] = []
    if vs:
        found_by_vs = {c["answer"] for c in classes[vs] if c["correct"]}
        for c in classes[0]:
            if c["correct"] and c["answer"] is not None and c["answer"] not in found_by_vs:
                first = [r["sample_idx"] for r in verdicts[0] if r["answer"] == c["answer"] and r["verdict"]]
                lost.append({
                    "answer": c["answer"],
                    "count": c["correct_count"],
                    "count_vs": next((t["count"] for t in classes[vs] if t["answer"] == c["answer"]), 0),
                    "examples": first[:EXAMPLES],
                })  # fmt: skip
        for c in sorted(classes[vs], key=lambda c: -c["count"])[:TOP_TUNED]:
            first = [r["sample_idx"] for r in verdicts[vs] if r["answer"] == c["answer"]][:1]
            tuned_top.append({**c, "examples": first})
        # One query per run for every example on the page, then each list takes its own.
        for run, items in ((0, lost), (vs, tuned_top)):
            rows = _sample_rows(b, run, task_id, sorted({i for item in items for i in item["examples"]}))
            by_idx = {r["sample_idx"]: r for r in rows}
            for item in items:
                item["examples"] = [by_idx[i] for i in item["examples"] if i in by_idx]
    return {
        "task": {"task_id": task_id, "dataset": task[1], "prompt": task[2], "reference": reference},
        "vs": vs,
        "runs": runs,
        "lost": lost,
        "vs_top": tuned_top,
        "labels": list(LABEL_KINDS),
    }


def samples(b: Browser, params: dict[str, str]) -> dict[str, Any]:
    """One page of a task's samples in one run, optionally only those with one final answer."""
    task_id = _check_task(b, params.get("task"))
    i = _check_run(b, params.get("run"))
    offset = _int(params.get("offset"), "offset", 0, 0, 10**9)
    limit = _int(params.get("limit"), "limit", 10, 1, MAX_PAGE)
    rows = _verdicts(b, i, task_id)
    if "answer" in params:
        rows = [r for r in rows if r["answer"] == params["answer"]]
    elif params.get("no_answer"):
        rows = [r for r in rows if r["answer"] is None]
    indices = [r["sample_idx"] for r in rows]
    page = _sample_rows(b, i, task_id, indices[offset : offset + limit])
    return {"task_id": task_id, "run": i, "total": len(indices), "offset": offset, "samples": page}


def add_sample_label(b: Browser, body: Any) -> dict[str, Any]:
    """Store one label from a JSON body {run, task_id, sample_idx, label, note}; returns the sample."""
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object {run, task_id, sample_idx, label, note}")
    i = _check_run(b, body.get("run"))
    task_id = _check_task(b, body.get("task_id"))
    idx = body.get("sample_idx")
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise BadRequest(f"sample_idx={idx!r}: give the sample's integer index")
    label, note = body.get("label"), body.get("note")
    if label not in LABEL_KINDS:
        raise BadRequest(f"label {label!r}: use one of {', '.join(LABEL_KINDS)}")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note: give a string")
    if label == "note" and not (note or "").strip():
        raise BadRequest("a note label needs the note's text")
    rows = (
        b.con.cursor()
        .execute(f"select correct from grades_{i} where task_id = ? and sample_idx = ?", [task_id, idx])
        .fetchall()
    )
    if not rows:
        raise NotFound(f"no sample {idx} of task {task_id!r} in run {i} ({b.runs[i].path})")
    add_label(b.runs[i], task_id, idx, label, note, b.graders[i], rows[0][0])
    return _sample_rows(b, i, task_id, [idx])[0]
