"""The lab's task family and its source: the registry holds `lab:` without an import loop."""

import subprocess
import sys

import pytest

from leash.errors import LeashError
from leash.lab.tasks import arith_problems, prompt_of
from leash.tasks import load_tasks


def _modules_after(statement: str) -> set[str]:
    """The leash modules a fresh interpreter has loaded after running `statement`."""
    probe = f"import sys; {statement}; print(' '.join(m for m in sys.modules if m.startswith('leash')))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(proc.stdout.split())


def test_the_lab_generator_does_not_import_the_task_sources():
    loaded = _modules_after("import leash.lab.tasks")
    assert "leash.lab.tasks" in loaded
    assert not {m for m in loaded if m == "leash.tasks" or m.startswith("leash.tasks.")}


def test_the_registry_holds_lab_once_sources_are_imported():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from leash.tasks.sources import SOURCES; print('lab' in SOURCES)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert proc.stdout.strip() == "True"
    assert "leash.lab.tasks" not in _modules_after("import leash.tasks.sources")  # loaded on first use only


def test_the_source_serves_the_generators_problems():
    tasks = load_tasks("lab:arith?size=5&seed=7")
    problems = arith_problems(5, 7)
    assert [t.question for t in tasks] == [prompt_of(p) for p in problems]
    assert [t.reference for t in tasks] == problems
    assert [t.task_id for t in tasks] == [f"arith/s7/{i:05d}" for i in range(5)]
    assert {t.verifier for t in tasks} == {"arith"}
    with pytest.raises(LeashError, match="unknown lab task 'geometry'"):
        load_tasks("lab:geometry")
