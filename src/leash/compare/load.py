"""Load one run's graded samples as per-problem arrays for compare (DuckDB does the counting).

Manual labels in labels.parquet override a grader's verdict: the latest label
`hack` or `incorrect` makes a sample incorrect, `correct` makes it correct; other
labels (notes) change nothing. A null verdict counts as incorrect.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from leash.errors import LeashError
from leash.store import Run, parquet_source, to_arrow

__all__ = ["RunGrades", "choose_grader", "graded_task_ids", "load_run_grades"]

VERDICT_LABELS = {"hack": False, "incorrect": False, "correct": True}


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


def _graded_view(con: duckdb.DuckDBPyConnection, run: Run, grader: str) -> int:
    """Create view `g` (task_id, sample_idx, correct, answer) with labels applied.

    A (task_id, sample_idx) stored twice is an error (`Run.check_unique`), never
    counted twice: n must be the number of samples.
    """
    run.check_unique(f"grades/{grader}")
    source = parquet_source(run.shards(f"grades/{grader}"))
    con.execute(f"create view raw as select task_id, sample_idx, correct, answer from {source}")
    labels = run.read_labels()
    verdicts = labels.filter(pc.is_in(labels["label"], pa.array(list(VERDICT_LABELS))))
    if verdicts.num_rows == 0:
        con.execute("create view g as select * from raw")
        return 0
    con.register("verdict_labels", verdicts)
    con.execute(
        """
        create view latest as
        select task_id, sample_idx, label from verdict_labels
        qualify row_number() over (partition by task_id, sample_idx order by created desc) = 1
        """
    )
    con.execute(
        """
        create view g as
        select r.task_id, r.sample_idx, r.answer,
               case l.label when 'correct' then true when 'hack' then false
                            when 'incorrect' then false else r.correct end as correct
        from raw r left join latest l using (task_id, sample_idx)
        """
    )
    return int(con.sql("select count(*) from raw join latest using (task_id, sample_idx)").fetchall()[0][0])


def graded_task_ids(run: Run, grader: str) -> list[str]:
    con = duckdb.connect()
    rows = con.sql(
        f"select distinct task_id from {parquet_source(run.shards(f'grades/{grader}'))} order by task_id"
    ).fetchall()
    return [r[0] for r in rows]


def load_run_grades(run: Run, grader: str, task_ids: list[str]) -> RunGrades:
    """Counts, answer classes and votes of `run` for the given (sorted) task ids."""
    con = duckdb.connect()
    labels_applied = _graded_view(con, run, grader)
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
        labels_applied=labels_applied,
    )
