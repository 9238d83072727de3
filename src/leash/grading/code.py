"""The `code` verifier: the program runs in the sandbox; the grader compares its outputs.

A task's `reference` follows the field's formats:
- MBPP: {"tests": ["assert f(1) == 2", ...], "imports": [...]}
- HumanEval: {"test": "def check(candidate): ...", "entry_point": "f", "prompt": "..."}
- LiveCodeBench: {"io": [{"input": "...", "output": "..."}], "fn_name"?: "..."}

The program is the last fenced code block of the completion (or the text after
</think> when there is none); for HumanEval a program without the entry point is
appended to the prompt. Tests of the form `assert CALL == EXPECTED` are call-based:
the sandbox returns CALL's value, serialised by type (only builtin types; objects
with a clever `__eq__` or `__repr__` do not serialise), and the grader compares it
with EXPECTED, which never enters the sandbox (it is computed once per task in a
sandbox of its own, without the candidate). stdin/stdout tests are compared in the
grader too. Other tests (loops in `check`, helper asserts) run inside the sandbox
as asserts: the detail says so. A pass also needs exit 0 and the run's nonce,
written after the last test through a descriptor saved before the candidate runs,
so an early `sys.exit(0)` or `os._exit(0)` never passes.
"""

from __future__ import annotations

import ast
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from leash.grading.extract import after_think
from leash.grading.registry import register_verifier
from leash.grading.sandbox import Limits, run_program
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["CodeVerifier", "extract_program"]

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)

# The harness runs in the sandbox. It saves a descriptor to the real stdout before
# the candidate runs, sends the candidate's prints to stderr, evaluates each call,
# serialises results by exact builtin type with functions it captured beforehand,
# and writes results then the nonce last.
HARNESS = r"""
import json, os, sys
_fd = os.dup(1)
os.dup2(2, 1)
_nonce = sys.argv[1]
_spec = json.load(open("spec.json"))

def _make_serialiser(type=type, list=list, tuple=tuple, dict=dict, set=set, frozenset=frozenset,
                     sorted=sorted, repr=repr, int=int, float=float, str=str, bool=bool, len=len):
    def ser(v, depth=0):
        t = type(v)
        if depth > 50:
            raise ValueError("too deep")
        if v is None or t is bool or t is int or t is str:
            return ["v", v] if t is not int or len(str(v)) < 4000 else ["big", str(v)]
        if t is float:
            return ["f", repr(v)]
        if t is list or t is tuple:
            return ["l" if t is list else "t", [ser(x, depth + 1) for x in v]]
        if t is set or t is frozenset:
            return ["s", sorted((ser(x, depth + 1) for x in v), key=repr)]
        if t is dict:
            return ["d", [[ser(k, depth + 1), ser(x, depth + 1)] for k, x in v.items()]]
        raise TypeError("not a builtin value: " + t.__name__)
    return ser

_ser = _make_serialiser()
_dumps, _write, _encode = json.dumps, os.write, str.encode
_ns = {"__name__": "__candidate__"}
for _line in _spec.get("setup", []):
    exec(_line, _ns)
exec(compile(open("candidate.py").read(), "candidate.py", "exec"), _ns)
if _spec.get("entry_point"):
    _ns["candidate"] = _ns[_spec["entry_point"]]
_results = []
for _call in _spec.get("calls", []):
    try:
        _results.append(["ok", _ser(eval(_call, _ns))])
    except BaseException as _err:
        _results.append(["raised", type(_err).__name__])
for _src in _spec.get("asserts", []):
    try:
        exec(_src, _ns)
        _results.append(["ok", ["v", True]])
    except BaseException as _err:
        _results.append(["raised", type(_err).__name__])
_write(_fd, _encode(_dumps(_results) + "\n" + _nonce + "\n"))
"""

# Expected values of call-based tests, computed once per task without the candidate.
EXPECTED_HARNESS = HARNESS.replace(
    'exec(compile(open("candidate.py").read(), "candidate.py", "exec"), _ns)', "pass"
).replace('_ns["candidate"] = _ns[_spec["entry_point"]]', "pass")


def extract_program(text: str) -> str:
    """The last fenced code block, or the text after </think> when there is none."""
    body = after_think(text)
    blocks = _FENCE.findall(body)
    return blocks[-1] if blocks else body


@dataclass
class _Plan:
    """How one task is tested: calls compared in the grader, asserts run in the sandbox, io pairs."""

    setup: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # source of each call's expected value
    asserts: list[str] = field(default_factory=list)
    io: list[tuple[str, str]] = field(default_factory=list)
    entry_point: str | None = None
    prompt: str | None = None


def _split_assert(source: str) -> tuple[str, str] | None:
    """`assert CALL == EXPECTED` -> (CALL, EXPECTED); None for any other statement."""
    try:
        tree = ast.parse(source.strip())
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        return ast.unparse(test.left), ast.unparse(test.comparators[0])
    return None


def _plan(reference: dict[str, Any]) -> _Plan:
    plan = _Plan()
    if "io" in reference:
        if reference.get("fn_name"):
            fn = reference["fn_name"]
            for case in reference["io"]:
                args = [json.loads(line) for line in str(case["input"]).splitlines() if line.strip()]
                plan.calls.append(f"_lcb({fn!r}, {json.dumps(args)!r})")
                plan.expected.append(repr(json.loads(case["output"])))
            plan.setup.append(
                "def _lcb(fn, args):\n    import json\n    a = json.loads(args)\n"
                "    S = globals().get('Solution')\n"
                "    return getattr(S(), fn)(*a) if S else globals()[fn](*a)"
            )
        else:
            plan.io = [(str(c["input"]), str(c["output"])) for c in reference["io"]]
        return plan
    plan.setup = [str(line) for line in reference.get("imports", [])]
    if "tests" in reference:
        tests = [str(t) for t in reference["tests"]]
    elif "test" in reference:
        plan.entry_point = reference.get("entry_point")
        plan.prompt = reference.get("prompt")
        tests = _check_body(str(reference["test"]), plan)
    else:
        raise ValueError("reference has none of tests, test, io")
    for test in tests:
        split = _split_assert(test)
        if split is None:
            plan.asserts.append(test)
        else:
            plan.calls.append(split[0])
            plan.expected.append(split[1])
    return plan


def _check_body(source: str, plan: _Plan) -> list[str]:
    """HumanEval's `check(candidate)`: its simple asserts become tests; anything else runs whole."""
    tree = ast.parse(source)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None:
        return [source]
    others = [n for n in tree.body if n is not check]
    plan.setup += [ast.unparse(n) for n in others]
    simple = all(isinstance(s, ast.Assert | ast.Expr) for s in check.body)
    if simple:
        return [ast.unparse(s) for s in check.body if isinstance(s, ast.Assert)]
    plan.setup.append(ast.unparse(check))
    return ["check(candidate)"]


def _decode(node: list[Any]) -> Any:
    """A serialised value back to builtin types (in the grader: plain data, no code)."""
    tag, value = node
    if tag == "v":
        return value
    if tag == "big":
        return int(value)
    if tag == "f":
        return float(value)
    if tag in ("l", "t"):
        items = [_decode(x) for x in value]
        return items if tag == "l" else tuple(items)
    if tag == "s":
        return frozenset(_decode(x) for x in value)
    if tag == "d":
        return {_freeze(_decode(k)): _decode(x) for k, x in value}
    raise ValueError(f"unknown tag {tag!r}")


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _same(got: list[Any], expected: list[Any]) -> bool:
    """Python's == on the decoded builtin values (4 == 4.0, [1] != (1,)), as the test meant."""
    try:
        return bool(_decode(got) == _decode(expected))
    except (ValueError, TypeError):
        return False


def _normalise_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


class CodeVerifier:
    name = "code"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **_: Any) -> None:
        self.timeout = timeout
        self.limits = Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout)))
        self.expected: dict[str, list[Any]] = {}

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        return [self._one(item) for item in items]

    def _expected(self, task_id: str, plan: _Plan) -> list[Any]:
        if task_id not in self.expected:
            spec = {"setup": plan.setup, "calls": plan.expected, "asserts": []}
            result = run_program(
                {"harness.py": EXPECTED_HARNESS, "spec.json": json.dumps(spec)},
                ["python", "-I", "harness.py", "nonce"],
                limits=self.limits,
            )
            lines = result.stdout.decode(errors="replace").splitlines()
            if result.exit_code != 0 or len(lines) < 2:
                raise ValueError(f"the task's expected values did not compute: {result.stderr[-300:]!r}")
            self.expected[task_id] = json.loads(lines[0])
        return self.expected[task_id]

    def _one(self, item: GradeItem) -> Verdict:
        if not item.reference:
            return failed("error", "task has no reference (unit tests)")
        if not item.text.strip():
            return no_answer("empty completion")
        try:
            plan = _plan(item.reference)
            expected = self._expected(item.task_id, plan) if plan.calls else []
        except (ValueError, SyntaxError, KeyError, TypeError) as err:
            return failed("error", f"bad reference: {err}")
        program = extract_program(item.text)
        if plan.entry_point and f"def {plan.entry_point}" not in program and plan.prompt:
            program = plan.prompt + program
        if plan.io:
            return self._run_io(program, plan)
        return self._run_calls(program, plan, expected)

    def _run_calls(self, program: str, plan: _Plan, expected: list[Any]) -> Verdict:
        nonce = secrets.token_hex(16)
        spec = {
            "setup": plan.setup,
            "calls": plan.calls,
            "asserts": plan.asserts,
            "entry_point": plan.entry_point,
        }
        result = run_program(
            {"harness.py": HARNESS, "spec.json": json.dumps(spec), "candidate.py": program},
            ["python", "-I", "harness.py", nonce],
            limits=self.limits,
        )
        if result.timed_out:
            return failed("timeout", "the program passed the time limit")
        lines = result.stdout.decode(errors="replace").splitlines()
        if result.output_capped:
            return Verdict(False, 0.0, None, "ok", "output over the cap")
        if result.exit_code != 0 or len(lines) < 2 or lines[-1] != nonce:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return Verdict(False, 0.0, None, "ok", f"exit {result.exit_code}, no nonce: {tail[0][:200]}")
        try:
            got = json.loads(lines[-2])
        except ValueError:
            return Verdict(False, 0.0, None, "ok", "unreadable results")
        n_calls = len(plan.calls)
        passed = sum(
            1
            for i, (status, value) in enumerate(got[:n_calls])
            if status == "ok" and expected[i][0] == "ok" and _same(value, expected[i][1])
        ) + sum(1 for status, _ in got[n_calls:] if status == "ok")
        total = n_calls + len(plan.asserts)
        ok = passed == total and len(got) == total
        detail = f"{passed}/{total} tests" + (
            f" ({len(plan.asserts)} as in-sandbox asserts)" if plan.asserts else ""
        )
        return Verdict(ok, passed / total if total else 0.0, None, "ok", detail)

    def _run_io(self, program: str, plan: _Plan) -> Verdict:
        for k, (stdin, want) in enumerate(plan.io):
            result = run_program(
                {"main.py": program}, ["python", "-I", "main.py"], stdin=stdin.encode(), limits=self.limits
            )
            if result.timed_out:
                return failed("timeout", f"test {k + 1}: the program passed the time limit")
            got = result.stdout.decode(errors="replace")
            if (
                result.output_capped
                or result.exit_code != 0
                or _normalise_output(got) != _normalise_output(want)
            ):
                return Verdict(False, k / len(plan.io), None, "ok", f"failed test {k + 1}/{len(plan.io)}")
        return Verdict(True, 1.0, None, "ok", f"{len(plan.io)}/{len(plan.io)} tests")

    def close(self) -> None:
        pass


register_verifier("code", CodeVerifier)
