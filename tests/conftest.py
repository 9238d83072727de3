"""Shared helpers: write generations files the way users' tools do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


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
