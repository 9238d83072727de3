"""`--format inspect`: a log that inspect-ai itself writes (a local task on its mockllm model,
3 epochs, the `match` scorer), and Inspect's pass_k reducer against leash's pass^k."""

from collections import Counter
from itertools import product

import numpy as np
import pytest

from leash.errors import LeashError
from leash.importers import import_generations
from leash.metrics import pass_hat_k
from leash.store import open_run

TARGETS = {"q1": "1", "q2": "0", "q3": "2"}


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    seen: Counter[str] = Counter()

    def reply(messages, tools, tool_choice, config):
        # Each question's i-th call answers i mod 3, so its 3 epochs answer 0, 1 and 2.
        question = messages[-1].text
        out = ModelOutput.from_content(model="mockllm", content=f"The answer is {seen[question] % 3}")
        seen[question] += 1
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # no tokenizer download
        return out

    task = Task(
        dataset=[Sample(input=f"Question {i}?", target=t, id=i) for i, t in TARGETS.items()],
        solver=[generate()],
        scorer=match(),
        name="toy",
    )
    log_dir = tmp_path_factory.mktemp("inspect")
    [log] = inspect_eval(
        task, model=get_model("mockllm/model", custom_outputs=reply), epochs=3,
        log_dir=str(log_dir), display="none",
    )  # fmt: skip
    assert log.status == "success"
    return log.location


def test_epochs_are_samples_and_scores_are_verdicts(log_path, tmp_path):
    summary = import_generations(log_path, tmp_path / "run", "inspect")
    assert (summary.tasks, summary.samples_added, summary.grades_added) == (3, 9, 9)
    run = open_run(tmp_path / "run")
    assert run.meta()["model"] == "mockllm/model"  # from the log
    assert run.meta()["source"]["task"] == "toy" and run.meta()["source"]["epochs"] == 3
    tasks = {t["task_id"]: t for t in run.read_tasks().to_pylist()}
    assert set(tasks) == {f"toy/{i}" for i in TARGETS}
    assert {t["dataset"] for t in tasks.values()} == {"toy"}
    assert tasks["toy/q1"]["prompt"] == "Question q1?" and '"answer": "1"' in tasks["toy/q1"]["reference"]
    samples = {(s["task_id"], s["sample_idx"]): s["text"] for s in run.read("samples").to_pylist()}
    assert set(samples) == set(product((f"toy/{i}" for i in TARGETS), range(3)))
    for i in TARGETS:  # the mock answered 0, 1, 2 over the three epochs
        assert sorted(samples[(f"toy/{i}", j)] for j in range(3)) == [f"The answer is {a}" for a in range(3)]
    # Each epoch's verdict is its own score: correct iff the completion ends with the target.
    for g in run.read("grades/imported").to_pylist():
        task = g["task_id"].split("/")[1]
        assert g["correct"] == samples[(g["task_id"], g["sample_idx"])].endswith(TARGETS[task])


def test_named_scorer_and_bad_files(log_path, tmp_path):
    with pytest.raises(LeashError, match="scorer 'nope' not found"):
        from leash.importers import ImportOptions

        import_generations(log_path, tmp_path / "run", "inspect", options=ImportOptions(metric="nope"))
    bad = tmp_path / "broken.eval"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LeashError, match="not a readable Inspect log"):
        import_generations(bad, tmp_path / "run2", "inspect")
    assert not (tmp_path / "run").exists() and not (tmp_path / "run2").exists()


def test_pass_hat_k_matches_inspects_pass_k_reducer():
    from inspect_ai.scorer import Score, pass_k

    rng = np.random.default_rng(0)
    for n in (1, 5, 12):
        for c in sorted({0, n, *rng.integers(0, n + 1, size=4).tolist()}):
            scores = [Score(value=1.0 if j < c else 0.0) for j in range(n)]
            ours = pass_hat_k([n], [c], list(range(1, n + 1)))[0]
            theirs = [pass_k(k)(scores).value for k in range(1, n + 1)]
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
