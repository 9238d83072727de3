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

import dataclasses
import json
import os
import socket
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from leash.errors import LeashError
from leash.jsonl import read_jsonl, require_file
from leash.tasks.files import LAYOUT_FIELDS, check_verifier, published_layout, task_row

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
    """Resolve a spec string to its tasks: the first `limit` of them, all when `limit` is None or 0.

    Every verifier a task names must be registered (refused here, not later at grade time).
    """
    if limit is not None and limit < 0:
        raise LeashError(f"--limit {limit}: must be a count of tasks, >= 1 (or 0 for all of them)")
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
    for name in dict.fromkeys(t.verifier for t in tasks):
        first = next(t.task_id for t in tasks if t.verifier == name)
        check_verifier(name, f"{spec}: task {first!r}")
    return tasks[:limit] if limit else tasks


# --- reasoning-gym ------------------------------------------------------------------------

# What reasoning-gym 0.1.25 itself does with its own entries (tests/grading/test_rg.py checks
# both tables against reasoning-gym, and docs/grade.md lists them): `leash tasks` warns.
RG_GOLD_NOT_ONE = {
    name: "its entries have no single gold answer (`answer` is None; any valid solution scores 1.0), "
    "so the entry's own answer does not score 1.0 under its own scorer"
    for name in ("boxnet", "graph_color", "propositional_logic", "rubiks_cube", "rush_hour")
}
RG_SCORER_RAISES = {
    "prime_factorization": "its scorer raises on a non-numeric answer instead of scoring 0 "
    "(leash records status error)",
}


def _expected(annotation: Any) -> tuple[str, Callable[[Any], bool], Callable[[Any], Any]] | None:
    """(what a spec value must be, its test, its cast) for the annotations a spec can give."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _expected(args[0])
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        return f"one of {', '.join(map(str, choices))}", lambda v: v in choices, lambda v: v
    simple: dict[Any, tuple[str, Callable[[Any], bool], Callable[[Any], Any]]] = {
        bool: ("true or false", lambda v: isinstance(v, bool), bool),
        int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool), int),
        float: ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool), float),
        str: ("text", lambda v: True, lambda v: str(v).lower() if isinstance(v, bool) else str(v)),
    }
    return simple.get(annotation)


def rg_config(name: str, params: dict[str, Any], config_cls: type[Any]) -> dict[str, Any]:
    """Check spec values against the dataset's config dataclass before reasoning-gym sees them.

    Returns the config (size 100, seed 0 unless given), each value cast to the type its
    field declares (`3` for a float field is 3.0); an unknown key, a value of the wrong type
    or one the config's own `validate()` rejects ends in one line naming key and value.
    """
    hints = typing.get_type_hints(config_cls)
    fields = [f.name for f in dataclasses.fields(config_cls)]
    config = {"size": 100, "seed": 0, **params}
    for key, value in config.items():
        if key not in fields:
            raise LeashError(f"rg:{name}: unknown option {key!r}; options: {', '.join(sorted(fields))}")
        expected = _expected(hints.get(key))
        if expected is None:
            raise LeashError(f"rg:{name}: option {key!r} ({hints.get(key)}) cannot be set in a spec")
        what, ok, cast = expected
        if not ok(value) or (key == "size" and value < 1):
            what = "an integer >= 1" if key == "size" else what
            raise LeashError(f"rg:{name}: {key}={value!r} is not valid; expected {what}")
        config[key] = cast(value)
    try:
        checked = config_cls(**config)
        if hasattr(checked, "validate"):
            checked.validate()
    except (TypeError, ValueError, AssertionError) as err:
        named = [f"{k}={v!r}" for k, v in params.items() if k in str(err)] or [str(params)]
        raise LeashError(f"rg:{name}: {', '.join(named)} is out of range: {err or 'rejected'}") from err
    return config


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
    config = rg_config(name, params, DATASETS[name][1])
    seed = config["seed"]
    tasks = []
    try:
        for i, entry in enumerate(reasoning_gym.create_dataset(name, **config)):
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
    except Exception as err:  # a generator that fails on valid-looking values: still one line
        raise LeashError(
            f"rg:{name}: reasoning-gym could not generate entry {len(tasks)} with {params} "
            f"({type(err).__name__}: {err})"
        ) from err
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
        published = published_layout(row, f"{where}: row {i}")  # HumanEval / MBPP as published
        reference = published or reference
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
                verifier=row.get("verifier") or ("code" if published else None),
                reference=reference or None,
                system=row.get("system"),
                meta={
                    k: v for k, v in row.items() if k not in used and not (published and k in LAYOUT_FIELDS)
                },
            )
        )
    return tasks


def file_tasks(body: str, params: dict[str, Any], columns: Columns) -> list[Task]:
    path = require_file(body, "task file")
    return rows_to_tasks(_read_rows(path), str(path), path.name.split(".")[0], columns)


# --- Hugging Face datasets ------------------------------------------------------------------


HUB_PROBE_SECONDS = 2.0  # how long to wait for a TCP connection to the hub before calling it unreachable


def hub_unreachable(timeout: float = HUB_PROBE_SECONDS) -> str | None:
    """Why the hub cannot be reached (a short TCP connect to HF_ENDPOINT), or None if it can.

    `datasets` retries an unreachable hub for ~24 s before it fails; this answers in at most
    `timeout` seconds. Behind an HTTPS proxy the hub is not dialled directly, so no probe is made.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = (
        endpoint.hostname or "huggingface.co",
        endpoint.port or (80 if endpoint.scheme == "http" else 443),
    )
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        return f"the hub {host}:{port} is unreachable: {err.strerror or err}"
    return None


def _offline_env() -> bool:
    return any(
        os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@contextmanager
def _offline_mode(datasets: Any) -> Iterator[None]:
    """huggingface_hub and datasets in offline mode for one load: a cached copy still loads, and
    nothing waits on the network. Both libraries read the flag from a module constant."""
    import huggingface_hub.constants as hub_constants

    saved = (
        hub_constants.HF_HUB_OFFLINE,
        datasets.config.HF_HUB_OFFLINE,
        datasets.config.HF_DATASETS_OFFLINE,
    )
    hub_constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE = (
            saved
        )


def load_hf_rows(
    name: str, split: str, config: str | None = None, spec: str | None = None
) -> list[dict[str, Any]]:
    """Rows of a hub dataset through `datasets`; offline, unreachable or missing -> one clear line.

    An unreachable hub is found in ~2 s (`hub_unreachable`); the load then runs in offline mode,
    so a dataset already in the local cache still loads.
    """
    try:
        import datasets
    except ImportError as err:
        raise LeashError("hf: tasks need the datasets library: pip install datasets") from err
    unreachable = None if _offline_env() else hub_unreachable()
    try:
        with _offline_mode(datasets) if unreachable else nullcontext():
            data = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # network, auth and missing-split errors come in many types
        if unreachable:
            why = f"{unreachable}, and no copy is in the local cache"
        elif _offline_env() or "offline" in str(err).lower():
            why = "offline (HF_HUB_OFFLINE=1), and no copy is in the local cache"
        else:
            why = str(err).splitlines()[0][:200]
        spec = spec or f"hf:{name}?split={split}" + (f"&config={config}" if config else "")
        raise LeashError(
            f"hf:{name} split {split!r}: cannot load ({why}); on a machine with the network run "
            f"`leash tasks {spec} --out tasks.jsonl` and use file:tasks.jsonl"
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
