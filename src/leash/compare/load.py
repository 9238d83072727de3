"""Load one run's graded samples as per-problem arrays for compare (DuckDB does the counting).

Manual labels in labels.parquet (written by `leash serve`) override a grader's verdict.
Per sample the latest verdict label counts (a later row supersedes an earlier one):

    lucky, hack, incorrect   -> incorrect (a right answer reached by wrong reasoning is no solution)
    bad-grade                -> the opposite of the verdict the labeller saw (column `graded`;
                                without it, of the grader's verdict now): the grader was wrong
    correct                  -> correct
    ok                       -> the grader's verdict (it cancels an earlier label)

`note` rows change nothing. A null verdict counts as incorrect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from leash.errors import LeashError
from leash.store import Run, parquet_source, to_arrow

__all__ = ["RunGrades", "choose_grader", "graded_task_ids", "load_run_grades"]

# Labels that decide a sample's verdict; the value is what the label makes it (None: see above).
VERDICT_LABELS: dict[str, bool | None] = {
    "lucky": False,
    "hack": False,
    "incorrect": False,
    "bad-grade": None,
    "correct": True,
    "ok": None,
}


@dataclass
class RunGrades:
    """One run's verdicts, aligned on `task_ids` (sorted)."""

    run: Run
    grader: str
    task_ids: list[str]
    n: NDArray[np.int64]  # samples per problem
    c: NDArray[np.int64]  # correct samples per problem
    # One row per (problem, answer class); answer None is the "no answer" class.
    class_problem: NDArray[np.int64]
    class_answer: list[str | None]
    class_count: NDArray[np.int64]
    class_correct: NDArray[np.bool_]
    has_answers: bool
    # Per sample, for maj@k (only when has_answers): problem, rank by sample_idx, answer code.
    vote_problem: NDArray[np.int32]  # int32: these hold one entry per sample
    vote_rank: NDArray[np.int32]
    vote_code: NDArray[np.int32]
    code_correct: NDArray[np.bool_]  # [problems x codes]
    labels_applied: int
    # What the labels did: {applied, ignored, by_label, to_incorrect, to_correct, problems_changed}.
    labels: dict[str, Any] = field(default_factory=dict)


def choose_grader(run: Run, grader: str | None) -> str:
    graders = run.names("grades")
    if grader is not None:
        if grader not in graders:
            raise LeashError(
                f"run {run.path} has no grades from {grader!r}; graders present: {graders or 'none'}"
            )
        return grader
    if not graders:
        raise LeashError(f"run {run.path} has no grades; grade it first with `leash grade {run.path}`")
    if len(graders) > 1:
        raise LeashError(f"run {run.path} has grades from {graders}; choose one with --grader")
    return graders[0]


def _latest_verdict_labels(run: Run) -> pa.Table:
    """(task_id, sample_idx, label, graded): each sample's latest verdict label."""
    labels = run.read_labels()
    if labels.num_rows == 0:
        return pa.table({"task_id": pa.array([], pa.string()), "sample_idx": pa.array([], pa.int64()),
                         "label": pa.array([], pa.string()), "graded": pa.array([], pa.bool_())})  # fmt: skip
    labels = labels.append_column("pos", pa.array(np.arange(labels.num_rows, dtype=np.int64)))
    if "graded" not in labels.column_names:
        labels = labels.append_column("graded", pa.nulls(labels.num_rows, pa.bool_()))
    verdicts = labels.filter(pc.is_in(labels["label"], pa.array(list(VERDICT_LABELS))))
    con = duckdb.connect()
    con.register(
        "verdict_labels", verdicts.select(["task_id", "sample_idx", "label", "created", "graded", "pos"])
    )
    return to_arrow(
        con.sql(
            """
            select task_id, sample_idx, label, graded::boolean as graded from verdict_labels
            qualify row_number() over (partition by task_id, sample_idx order by created desc, pos desc) = 1
            """
        )
    )


def _graded_view(con: duckdb.DuckDBPyConnection, run: Run, grader: str, use_labels: bool) -> dict[str, Any]:
    """Create view `g` (task_id, sample_idx, correct, answer) with labels applied; returns what they did.

    A (task_id, sample_idx) stored twice is an error (`Run.check_unique`), never
    counted twice: n must be the number of samples.
    """
    run.check_unique(f"grades/{grader}")
    source = parquet_source(run.shards(f"grades/{grader}"))
    con.execute(f"create view raw as select task_id, sample_idx, correct, answer from {source}")
    latest = _latest_verdict_labels(run)
    effect: dict[str, Any] = {"applied": 0, "ignored": 0, "by_label": {}, "to_incorrect": 0,
                              "to_correct": 0, "problems_changed": 0}  # fmt: skip
    if latest.num_rows == 0 or not use_labels:
        effect["ignored"] = latest.num_rows
        con.execute("create view g as select * from raw")
        return effect
    con.register("latest", latest)
    con.execute(
        """
        create view g as
        select r.task_id, r.sample_idx, r.answer,
               case when l.label in ('lucky', 'hack', 'incorrect') then false
                    when l.label = 'correct' then true
                    when l.label = 'bad-grade' then not coalesce(l.graded, r.correct, false)
                    else r.correct end as correct,
               l.label, coalesce(r.correct, false) as before
        from raw r left join latest l using (task_id, sample_idx)
        """
    )
    rows = con.sql(
        """
        select label, count(*) as n,
               sum((before and not coalesce(correct, false))::int) as down,
               sum((not before and coalesce(correct, false))::int) as up
        from g where label is not null group by label order by label
        """
    ).fetchall()
    changed = con.sql(
        """
        select count(*) from (select task_id from g where label is not null group by task_id
                              having sum(coalesce(correct, false)::int) <> sum(before::int))
        """
    ).fetchall()[0][0]
    effect["by_label"] = {label: int(n) for label, n, _, _ in rows}
    effect["applied"] = sum(effect["by_label"].values())
    effect["ignored"] = latest.num_rows - effect["applied"]  # labels of samples this grader lacks
    effect["to_incorrect"] = int(sum(down for _, _, down, _ in rows))
    effect["to_correct"] = int(sum(up for _, _, _, up in rows))
    effect["problems_changed"] = int(changed)
    return effect


def graded_task_ids(run: Run, grader: str) -> list[str]:
    con = duckdb.connect()
    rows = con.sql(
        f"select distinct task_id from {parquet_source(run.shards(f'grades/{grader}'))} order by task_id"
    ).fetchall()
    return [r[0] for r in rows]


def load_run_grades(run: Run, grader: str, task_ids: list[str], use_labels: bool = True) -> RunGrades:
    """Counts, answer classes and votes of `run` for the given (sorted) task ids.

    `use_labels`: apply labels.parquet's verdict labels (module docstring); False: the grader's own.
    """
    con = duckdb.connect()
    effect = _graded_view(con, run, grader, use_labels)
    keep = pa.table({"task_id": task_ids, "idx": np.arange(len(task_ids), dtype=np.int64)})
    con.register("keep", keep)
    counts = to_arrow(
        con.sql(
            """
            select k.idx, count(*) as n, sum(coalesce(g.correct, false)::bigint) as c
            from g join keep k using (task_id) group by k.idx order by k.idx
            """
        )
    )
    n = np.zeros(len(task_ids), dtype=np.int64)
    c = np.zeros(len(task_ids), dtype=np.int64)
    idx = counts["idx"].to_numpy()
    n[idx] = counts["n"].to_numpy()
    c[idx] = counts["c"].to_numpy()

    classes = to_arrow(
        con.sql(
            """
            select k.idx, g.answer, count(*) as m, bool_or(coalesce(g.correct, false)) as ok
            from g join keep k using (task_id) group by k.idx, g.answer order by k.idx
            """
        )
    )
    has_answers = classes["answer"].null_count < classes.num_rows
    empty = np.zeros(0, dtype=np.int32)
    vote_problem, vote_rank, vote_code = empty, empty, empty
    code_correct = np.zeros((len(task_ids), 0), dtype=bool)
    if has_answers:
        con.execute(
            """
            create table codes as
            select task_id, answer, ok,
                   (row_number() over (partition by task_id order by first, answer) - 1) as code
            from (select task_id, answer, min(sample_idx) as first,
                         bool_or(coalesce(correct, false)) as ok
                  from g where answer is not null group by task_id, answer)
            """
        )
        votes = to_arrow(
            con.sql(
                """
                select k.idx::integer as idx,
                       (row_number() over (partition by k.idx order by g.sample_idx) - 1)::integer as rank,
                       coalesce(c.code, -1)::integer as code
                from g join keep k using (task_id)
                left join codes c on c.task_id = g.task_id and c.answer = g.answer
                """
            )
        )
        vote_problem = votes["idx"].to_numpy()
        vote_rank = votes["rank"].to_numpy()
        vote_code = votes["code"].to_numpy()
        truth = to_arrow(con.sql("select k.idx, c.code, c.ok from codes c join keep k using (task_id)"))
        n_codes = int(vote_code.max(initial=-1)) + 1
        code_correct = np.zeros((len(task_ids), n_codes), dtype=bool)
        code_correct[truth["idx"].to_numpy(), truth["code"].to_numpy()] = truth["ok"].to_numpy(
            zero_copy_only=False
        )
    return RunGrades(
        run=run,
        grader=grader,
        task_ids=task_ids,
        n=n,
        c=c,
        class_problem=classes["idx"].to_numpy(),
        class_answer=classes["answer"].to_pylist(),
        class_count=classes["m"].to_numpy(),
        class_correct=classes["ok"].to_numpy(zero_copy_only=False),
        has_answers=bool(has_answers),
        vote_problem=vote_problem,
        vote_rank=vote_rank,
        vote_code=vote_code,
        code_correct=code_correct,
        labels_applied=effect["applied"],
        labels=effect,
    )
