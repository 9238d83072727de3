"""Task sources, named by spec strings.

    rg:NAME?size=200&seed=1&<config>    reasoning-gym, procedural and offline
    file:PATH                           JSONL, Parquet or CSV (columns chosen by the caller)
    hf:ORG/NAME?split=test&config=main  a Hugging Face dataset (needs the network)
    math500, gsm8k, ...                 presets (see presets.py), each a hub source + columns
                                        + verifier + prompt template
    lab:arith?size=64&seed=0            the lab's task family (leash.lab.tasks)

A source returns `Task`s; sampling turns a task's question into the exact prompt
(chat or plain template) and stores both in tasks.parquet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from leash.errors import LeashError
from leash.jsonl import read_jsonl, require_file
from leash.tasks.files import task_row

__all__ = [
    "SOURCES",
    "Columns",
    "Task",
    "load_tasks",
    "parse_spec",
    "register_source",
]


@dataclass(frozen=True)
class Task:
    """One problem: `question` is the user message; `system` an optional system message."""

    task_id: str
    question: str
    dataset: str
    verifier: str | None = None
    reference: dict[str, Any] | None = None
    system: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def row(self, prompt: str) -> dict[str, Any]:
        """The tasks.parquet row, with the exact prompt and the raw question in meta."""
        meta = {**self.meta, "question": self.question}
        if self.system is not None:
            meta["system"] = self.system
        return task_row(
            self.task_id,
            dataset=self.dataset,
            prompt=prompt,
            reference=self.reference,
            verifier=self.verifier,
            meta=meta,
        )


@dataclass(frozen=True)
class Columns:
    """Which columns of a file or dataset hold the id, the question and the answer."""

    id: str = "task_id"
    prompt: str = "prompt"
    answer: str = "answer"


Source = Callable[[str, dict[str, Any], Columns], list[Task]]
SOURCES: dict[str, Source] = {}


def register_source(kind: str, source: Source) -> None:
    """Register a spec prefix (`rg`, `file`, ...); a prefix can be registered once."""
    if kind in SOURCES:
        raise ValueError(f"task source {kind!r} is already registered")
    SOURCES[kind] = source


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """`kind:body?key=value&...` -> (kind, body, params); a bare name is a preset."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        kind, rest = "preset", spec
    body, _, query = rest.partition("?")
    params = {k: _value(v) for k, v in parse_qsl(query, keep_blank_values=True)}
    return kind, body, params


def load_tasks(spec: str, columns: Columns | None = None, limit: int | None = None) -> list[Task]:
    """Resolve a spec string to its tasks (the first `limit` when given)."""
    kind, body, params = parse_spec(spec)
    if kind == "preset":
        from leash.tasks.presets import load_preset

        tasks = load_preset(body, params)
    else:
        if kind not in SOURCES:
            known = ", ".join(f"{k}:" for k in sorted(SOURCES))
            raise LeashError(
                f"unknown task source {kind + ':'!r} in {spec!r}; use one of {known} or a preset"
            )
        tasks = SOURCES[kind](body, params, columns or Columns())
    if not tasks:
        raise LeashError(f"{spec}: no tasks")
    ids = [t.task_id for t in tasks]
    if len(set(ids)) != len(ids):
        raise LeashError(f"{spec}: task ids are not unique; choose an id column with --id-col")
    return tasks[:limit] if limit else tasks


# --- reasoning-gym ------------------------------------------------------------------------


def rg_tasks(name: str, params: dict[str, Any], columns: Columns) -> list[Task]:
    try:
        import reasoning_gym
        from reasoning_gym.factory import DATASETS
        from reasoning_gym.utils import SYSTEM_PROMPTS
    except ImportError as err:
        raise LeashError("rg: tasks need reasoning-gym: pip install 'leash[rg]'") from err
    if name not in DATASETS:
        close = [d for d in sorted(DATASETS) if name and name[:4] in d][:8]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise LeashError(f"unknown reasoning-gym dataset {name!r}{hint}; {len(DATASETS)} are registered")
    config = {"size": 100, "seed": 0, **params}
    try:
        dataset = reasoning_gym.create_dataset(name, **config)
    except (TypeError, ValueError, AssertionError) as err:
        raise LeashError(f"rg:{name}: invalid configuration {params} ({err})") from err
    seed = config["seed"]
    tasks = []
    for i, entry in enumerate(dataset):
        # The entry is what reasoning-gym's score_answer needs; JSON turns tuples into lists.
        entry = json.loads(json.dumps(entry, default=str))
        tasks.append(
            Task(
                task_id=f"{name}/s{seed}/{i:05d}",
                question=entry["question"],
                dataset=name,
                verifier="rg",
                reference={"rg_dataset": name, "entry": entry},
                system=SYSTEM_PROMPTS["default"],
                meta={"rg_config": config},
            )
        )
    return tasks


# --- files ----------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[dict[str, Any]]:
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith((".jsonl", ".jsonl.gz", ".json")):
        return [row for _, row in read_jsonl(path)]
    try:
        if suffixes.endswith(".parquet"):
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if suffixes.endswith(".csv"):
            import pyarrow as pa
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path)  # CSV has no types: keep every cell as text, as written
            return table.cast(pa.schema([(name, pa.string()) for name in table.column_names])).to_pylist()
    except Exception as err:  # pyarrow raises several types for an unreadable file
        raise LeashError(f"{path}: cannot read ({err})") from err
    raise LeashError(f"{path}: unknown file type; use .jsonl, .jsonl.gz, .parquet or .csv")


def rows_to_tasks(rows: list[dict[str, Any]], where: str, dataset: str, columns: Columns) -> list[Task]:
    """Map rows with the chosen columns to tasks; extra columns go to meta."""
    if not rows:
        raise LeashError(f"{where}: no rows")
    present = sorted(rows[0])
    for role, name in (("prompt", columns.prompt),):
        if name not in rows[0]:
            raise LeashError(
                f"{where}: no {role} column {name!r}; columns present: {present} (choose with --{role}-col)"
            )
    use_index = columns.id not in rows[0]
    if use_index and columns.id != "task_id":
        raise LeashError(f"{where}: no id column {columns.id!r}; columns present: {present}")
    tasks = []
    for i, row in enumerate(rows):
        reference = row.get("reference")
        if isinstance(reference, str):
            try:
                reference = json.loads(reference)
            except json.JSONDecodeError:
                reference = {"answer": reference}
        reference = dict(reference) if isinstance(reference, dict) else {}
        if row.get(columns.answer) is not None:
            reference.setdefault("answer", row[columns.answer])
        question = row[columns.prompt]
        if not isinstance(question, str):
            raise LeashError(
                f"{where}: row {i}: {columns.prompt!r} must be text, got {type(question).__name__}"
            )
        used = {columns.id, columns.prompt, columns.answer, "reference", "verifier", "dataset", "system"}
        tasks.append(
            Task(
                task_id=f"{dataset}/{i}" if use_index else str(row[columns.id]),
                question=question,
                dataset=str(row.get("dataset") or dataset),
                verifier=row.get("verifier"),
                reference=reference or None,
                system=row.get("system"),
                meta={k: v for k, v in row.items() if k not in used},
            )
        )
    return tasks


def file_tasks(body: str, params: dict[str, Any], columns: Columns) -> list[Task]:
    path = require_file(body, "task file")
    return rows_to_tasks(_read_rows(path), str(path), path.name.split(".")[0], columns)


# --- Hugging Face datasets ------------------------------------------------------------------


def load_hf_rows(name: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a hub dataset through `datasets`; offline or missing -> one clear line."""
    try:
        import datasets
    except ImportError as err:
        raise LeashError("hf: tasks need the datasets library: pip install datasets") from err
    try:
        data = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # network, auth and missing-split errors come in many types
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "offline" in str(err).lower()
        why = "offline (HF_HUB_OFFLINE=1)" if offline else str(err).splitlines()[0][:200]
        raise LeashError(
            f"hf:{name} split {split!r}: cannot load ({why}); on a machine with the network run "
            f"`leash tasks hf:{name}?split={split} --out tasks.jsonl` and use file:tasks.jsonl"
        ) from err
    return [dict(row) for row in data]


def hf_tasks(name: str, params: dict[str, Any], columns: Columns) -> list[Task]:
    rows = load_hf_rows(name, str(params.get("split", "test")), params.get("config"))
    return rows_to_tasks(rows, f"hf:{name}", name.split("/")[-1], columns)


register_source("rg", rg_tasks)
register_source("file", file_tasks)
register_source("hf", hf_tasks)


# --- the lab ------------------------------------------------------------------------------


def lab_tasks(body: str, params: dict[str, Any], columns: Columns) -> list[Task]:
    """`lab:arith?size=64&seed=0`: the lab's problems (leash.lab.tasks), imported on first use."""
    from leash.lab.tasks import arith_problems, prompt_of  # imports nothing from leash.tasks

    if body != "arith":
        raise LeashError(f"unknown lab task {body!r}; the lab has: arith")
    size, seed = int(params.get("size", 64)), int(params.get("seed", 0))
    return [
        Task(
            task_id=f"arith/s{seed}/{i:05d}",
            question=prompt_of(p),
            dataset="arith",
            verifier="arith",
            reference={"numbers": p["numbers"], "target": p["target"]},
        )
        for i, p in enumerate(arith_problems(size, seed))
    ]


register_source("lab", lab_tasks)
