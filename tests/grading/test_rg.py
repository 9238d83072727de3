"""The rg verifier: reasoning-gym's scorers, run in the sandbox."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import reasoning_gym
from reasoning_gym.factory import DATASETS
from reasoning_gym.utils import extract_answer

from leash.cli.tasks_cmd import rg_warning
from leash.errors import LeashError
from leash.grading import GradeItem, get_verifier
from leash.tasks import load_tasks
from leash.tasks.sources import RG_GOLD_NOT_ONE, RG_SCORER_RAISES


@pytest.fixture(scope="module")
def rg_verifier():
    verifier = get_verifier("rg", workers=2, timeout=3.0)
    yield verifier
    verifier.close()


def item(name, entry, answer, task_id="t"):
    text = f"thinking... <answer>{answer}</answer>" if answer is not None else "no tags"
    return GradeItem(task_id, text, {"rg_dataset": name, "entry": json.loads(json.dumps(entry, default=str))})


def test_countdown_gold_alternatives_partial_credit_and_eval_attacks(rg_verifier, tmp_path):
    entry = reasoning_gym.create_dataset("countdown", size=1, seed=3)[0]
    canary = tmp_path / "canary"
    canary.write_text("keep")
    canary.parent.chmod(0o755)
    items = [
        item("countdown", entry, entry["answer"]),
        item("countdown", entry, "1+2"),
        item("countdown", entry, None),
        item("countdown", entry, f"__import__('os').remove('{canary}')"),
        item("countdown", entry, "9**9**9"),
    ]
    start = time.monotonic()
    gold, partial, missing, attack, bomb = rg_verifier.grade(items)
    assert gold.correct and gold.score == 1.0
    assert not partial.correct and partial.score == 0.05  # reasoning-gym's partial credit
    assert missing.status == "no_answer"
    assert not attack.correct and canary.read_text() == "keep"
    assert bomb.status == "timeout" and not bomb.correct
    assert time.monotonic() - start < 20


NAMES = sorted(n for n in DATASETS if n != "composite")  # composite needs a list of datasets
NO_TAG_CREDIT = {"countdown", "fraction_simplification", "puzzle24"}  # score_answer(None) > 0


def rg_doc_section():
    """docs/grade.md from the rg verifier's paragraph to the next section."""
    doc = (Path(__file__).parents[2] / "docs" / "grade.md").read_text()
    section = doc[doc.index("**rg.**") :]
    return section[: section.index("\n## ")]


def reference_score(dataset, text, entry):
    """reasoning-gym's own verdict on a completion: its extract_answer, its score_answer, its entry."""
    try:
        return dataset.score_answer(extract_answer(text), entry)
    except Exception as err:
        return type(err).__name__


@pytest.fixture(scope="module")
def registry():
    """name -> (dataset, its first two entries as generated, the tasks leash stores for them)."""
    return {
        name: (dataset := reasoning_gym.create_dataset(name, size=2, seed=0), list(dataset),
               load_tasks(f"rg:{name}?size=2&seed=0"))
        for name in NAMES
    }  # fmt: skip


def test_leash_agrees_with_score_answer_on_every_registered_dataset(rg_verifier, registry):
    """A gold answer in tags, a wrong one, an untagged one, per dataset: leash's verdict on what it
    stored must equal reasoning-gym's score_answer on the entry as generated (raising -> error)."""
    items, expected = [], []
    for name, (dataset, entries, tasks) in registry.items():
        gold = entries[0]["answer"]
        texts = [f"<answer>{gold}</answer>", "<answer>certainly not it 0</answer>", f"the answer: {gold}"]
        for text in texts:
            items.append(GradeItem(tasks[0].task_id, text, tasks[0].reference))
            expected.append((name, text, reference_score(dataset, text, entries[0])))
    verdicts = rg_verifier.grade(items)
    disagree, format_credit = [], set()
    for (name, text, ref), got in zip(expected, verdicts, strict=True):
        if isinstance(ref, str):
            ok = got.status == "error" and not got.correct
        elif extract_answer(text) is None:
            # The one stated difference: no tag is no_answer, 0.0; a few scorers give None a credit.
            ok = got.status == "no_answer" and got.score == 0.0 and ref != 1.0
            if ref != 0.0:
                format_credit.add(name)
        else:
            ok = got.status == "ok" and got.score == pytest.approx(ref) and got.correct == (ref == 1.0)
        if not ok:
            disagree.append((name, text[:40], ref, got))
    assert len(NAMES) >= 100 and not disagree
    assert format_credit == NO_TAG_CREDIT
    assert all(f"`{name}`" in rg_doc_section() for name in NO_TAG_CREDIT)


def test_the_documented_reasoning_gym_quirks_are_what_reasoning_gym_does(registry):
    """The datasets whose own answer does not score 1.0 under their own scorer, and those whose
    scorer raises on a non-numeric answer, computed here: the tables leash warns with, and
    docs/grade.md, must name exactly these."""
    gold_not_one, raises = set(), set()
    for name, (dataset, entries, _) in registry.items():
        for entry in entries:
            if reference_score(dataset, f"<answer>{entry['answer']}</answer>", entry) != 1.0:
                gold_not_one.add(name)
        if isinstance(reference_score(dataset, "<answer>certainly not it</answer>", entries[0]), str):
            raises.add(name)
    assert gold_not_one == set(RG_GOLD_NOT_ONE)
    assert raises == set(RG_SCORER_RAISES)
    assert set(re.findall(r"`([a-z_0-9]+)`", rg_doc_section())) >= gold_not_one | raises
    for name in sorted(gold_not_one | raises):
        assert rg_warning(f"rg:{name}?size=3") is not None
    assert rg_warning("rg:leg_counting") is None


def test_spec_values_are_checked_before_reasoning_gym_sees_them():
    cases = {
        "rg:leg_counting?size=abc": "rg:leg_counting: size='abc' is not valid; expected an integer",
        "rg:leg_counting?size=0": "size=0 is not valid; expected an integer >= 1",
        "rg:leg_counting?min_animals=0": "min_animals=0 is out of range: min_animals must be positive",
        "rg:leg_counting?max_animals=2.5": "max_animals=2.5 is not valid; expected an integer",
        "rg:leg_counting?legs=4": "unknown option 'legs'; options: max_animals, max_instances",
        "rg:basic_arithmetic?whitespace=lots": "whitespace='lots' is not valid; expected one of no_space, single",
    }
    for spec, message in cases.items():
        with pytest.raises(LeashError, match=re.escape(message)):
            load_tasks(spec)
    # a float field takes an integer, as reasoning-gym's own dataclass would
    (task,) = load_tasks("rg:number_format?size=1&max_delta=3")
    assert task.meta["rg_config"]["max_delta"] == 3.0 and isinstance(
        task.meta["rg_config"]["max_delta"], float
    )


def test_a_scorer_that_raises_is_an_error_verdict(rg_verifier):
    entry = reasoning_gym.create_dataset("boxnet", size=1, seed=0)[0]
    (verdict,) = rg_verifier.grade([item("boxnet", entry, '{"not": "a list"}')])
    assert not verdict.correct and verdict.status in ("error", "ok")
    (missing,) = rg_verifier.grade([GradeItem("x", "<answer>1</answer>", None)])
    assert missing.status == "error"


def test_leash_tasks_refuses_a_bad_value_in_one_line_and_warns_on_a_quirky_dataset():
    def leash(*args):
        return subprocess.run(
            [sys.executable, "-m", "leash", *args], capture_output=True, text=True, timeout=120
        )

    bad = leash("tasks", "rg:leg_counting?size=abc")
    lines = [x for x in bad.stderr.splitlines() if x.strip()]
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(lines) == 1, bad.stderr
    assert "size='abc' is not valid; expected an integer" in lines[0]
    quirky = leash("tasks", "rg:boxnet?size=1", "--show", "0")
    assert quirky.returncode == 0, quirky.stderr
    assert "warning: reasoning-gym boxnet: its entries have no single gold answer" in " ".join(
        quirky.stderr.split()
    )
