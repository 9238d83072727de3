"""The code verifier: three reference formats, and a battery of hostile programs."""

import os
import resource
import socket
import time

import pytest

from leash.grading import GradeItem, get_verifier
from leash.grading.sandbox import UID_BASE, probe

MBPP = {"tests": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2.5, 0.5) == 3"]}
HUMANEVAL = {
    "prompt": 'def add(a, b):\n    """Add."""\n',
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n",
}
LOOPY = {
    "prompt": "def add(a, b):\n",
    "entry_point": "add",
    "test": "def check(candidate):\n    for a, b in [(1, 2), (3, 4)]:\n        assert candidate(a, b) == a + b\n",
}
IO = {"io": [{"input": "3 4\n", "output": "7\n"}, {"input": "10 -2\n", "output": "8"}]}
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"


@pytest.fixture(scope="module")
def code_verifier():
    verifier = get_verifier("code", timeout=5.0)
    yield verifier
    verifier.close()


def grade(verifier, text, reference=MBPP, task_id="t"):
    return verifier.grade([GradeItem(task_id, text, reference)])[0]


def test_formats(code_verifier):
    assert grade(code_verifier, GOOD).correct
    assert not grade(code_verifier, "```python\ndef add(a, b):\n    return a - b\n```").correct
    assert grade(code_verifier, "    return a + b\n", HUMANEVAL, "he").correct  # HumanEval body completion
    assert grade(code_verifier, GOOD, LOOPY, "loop").correct
    assert not grade(code_verifier, "```python\ndef add(a, b):\n    return 3\n```", LOOPY, "loop").correct
    io_good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    assert grade(code_verifier, io_good, IO, "io").correct
    assert not grade(code_verifier, "print(7)", IO, "io").correct
    assert grade(code_verifier, "", MBPP).status == "no_answer"
    assert grade(code_verifier, GOOD, None).status == "error"
    assert grade(
        code_verifier, "def add(a, b): return 4 == 4.0 and a + b", {"tests": ["assert add(1, 1) == 2.0"]}, "f"
    ).correct


def uids_alive():
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except FileNotFoundError:
                continue
            if UID_BASE <= uid < UID_BASE + 100:  # run_program's uids (rg zygotes +100, code zygotes +200)
                alive.append((entry, uid))
    return alive


def code_zygote_processes():
    """{uid: processes} for the code zygotes' uids: while a verifier is open, only the zygote."""
    counts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except FileNotFoundError:
                continue
            if UID_BASE + 200 <= uid < UID_BASE + 300:
                counts[uid] = counts.get(uid, 0) + 1
    return counts


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    yield server
    server.close()


def test_hostile_battery(code_verifier, tmp_path, listener, monkeypatch):
    caps = probe()
    if not caps.full:
        pytest.fail(f"the full sandbox is not available here ({caps.level}): the battery needs it")
    canary = tmp_path / "canary.txt"
    canary.write_text("intact")
    tmp_path.chmod(0o755)
    monkeypatch.setenv("LEASH_TEST_SECRET", "s3cret")
    port = listener.getsockname()[1]
    attacks = {
        "infinite loop": "def add(a, b):\n    while True:\n        pass",
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "20 GB allocation": "x = bytearray(20 * 2**30)\ndef add(a, b): return a + b",
        "10 GB file": "f = open('big', 'wb')\nfor _ in range(10 * 1024):\n    f.write(b'0' * 2**20)\ndef add(a, b): return a + b",
        "delete a canary": f"import os\nos.remove({str(canary)!r})\ndef add(a, b): return a + b",
        "read the grader's environment": "import os\ndef add(a, b):\n    s = os.environ.get('LEASH_TEST_SECRET', '')\n"
        "    try:\n        s += open('/proc/%d/environ' % os.getppid()).read()\n    except Exception:\n        pass\n"
        "    return a + b if 's3cret' in s else None",
        "socket to loopback": f"import socket\ndef add(a, b):\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')\n    return a + b",
        "daemon": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n"
        "    os._exit(0)\ndef add(a, b): return a + b if False else None",
        "1 GB to stdout": "import sys, os\nchunk = b'x' * 2**20\nfor _ in range(1024):\n    os.write(1, chunk)\ndef add(a, b): return None",
        "exit before the tests": "import sys\nsys.exit(0)",
        "os._exit before the tests": "import os\nos._exit(0)",
        "SystemExit in the call": "def add(a, b):\n    raise SystemExit(0)",
        "always-equal object": "class E:\n    def __eq__(self, o): return True\n    def __repr__(self): return '3'\ndef add(a, b): return E()",
        "patched builtins and json": "import builtins, json\nbuiltins.repr = lambda x: '3'\nbuiltins.type = lambda x: int\n"
        'json.dumps = lambda *a, **k: \'[["ok", ["v", 3]], ["ok", ["v", 0]], ["ok", ["v", 3]]]\'\ndef add(a, b): return \'x\'',
    }
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = {}
    for name, program in attacks.items():
        start = time.monotonic()
        results[name] = (grade(code_verifier, f"```python\n{program}\n```"), time.monotonic() - start)
    connected = []
    try:
        connected.append(listener.accept())
    except OSError:
        pass
    for name, (verdict, seconds) in results.items():
        assert not verdict.correct, (name, verdict)
        assert seconds < 15, (name, seconds)
    assert canary.read_text() == "intact"
    assert not connected
    deadline = time.monotonic() + 5  # the kernel reaps a dead PID namespace asynchronously
    while (
        uids_alive() or max(code_zygote_processes().values(), default=0) > 1
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert uids_alive() == []
    # Nothing a program started (the daemon, the fork bomb) outlived it: each zygote is alone.
    assert code_zygote_processes() and set(code_zygote_processes().values()) == {1}
    # The grader read at most the capped output: its peak memory grew by far less than 1 GB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200 * 1024


def test_closing_leaves_no_zygote():
    before = sum(code_zygote_processes().values())  # other verifiers of this session may be open
    verifier = get_verifier("code", workers=2, timeout=5.0)
    assert grade(verifier, GOOD).correct
    assert sum(code_zygote_processes().values()) == before + 2
    verifier.close()
    deadline = time.monotonic() + 5
    while sum(code_zygote_processes().values()) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(code_zygote_processes().values()) == before


SORT_THIRD = {  # HumanEval/33's shape: the expected side calls the candidate's own function
    "prompt": 'def sort_third(l: list):\n    """Sort every third element."""\n',
    "entry_point": "sort_third",
    "test": "def check(candidate):\n"
    "    assert tuple(candidate([1, 2, 3])) == tuple(sort_third([1, 2, 3]))\n"
    "    assert tuple(candidate([5, 6, 3, 4, 8, 9, 2])) == tuple([2, 6, 3, 4, 8, 9, 5])\n",
}
SORT_THIRD_BODY = "    l = list(l)\n    l[::3] = sorted(l[::3])\n    return l\n"


def test_expected_side_naming_the_candidate_runs_as_an_assert(code_verifier):
    right = grade(code_verifier, SORT_THIRD_BODY, SORT_THIRD, "33")
    assert right.correct and "1 as in-sandbox asserts" in right.detail
    assert not grade(code_verifier, "    return l\n", SORT_THIRD, "33").correct


def test_expected_value_that_fails_to_compute_is_an_error(code_verifier):
    ref = {"tests": ["assert add(1, 2) == 1 / 0"]}
    verdict = grade(code_verifier, GOOD, ref, "zerodiv")
    assert verdict.status == "error" and "ZeroDivisionError" in verdict.detail
    helper = {
        "tests": ["assert add(1, 2) == ref(1, 2)"],
        "imports": ["def ref(a, b):\n    raise KeyError(a)"],
    }
    assert grade(code_verifier, GOOD, helper, "helper-raises").status == "error"


def test_check_parameter_name_is_read_from_the_def(code_verifier):
    ref = {"prompt": "def inc(x):\n", "entry_point": "inc", "test": "def check(c):\n    assert c(1) == 2\n"}
    assert grade(code_verifier, "    return x + 1\n", ref, "param").correct
    assert not grade(code_verifier, "    return x\n", ref, "param").correct
    loops = {**ref, "test": "def check(fn):\n    for x in range(3):\n        assert fn(x) == x + 1\n"}
    assert grade(code_verifier, "    return x + 1\n", loops, "param-loop").correct


def test_a_restated_function_gets_the_prompts_imports_and_helpers(code_verifier):
    ref = {
        "prompt": "from typing import List\n\n\ndef helper(x: int) -> int:\n    return 2 * x\n\n\n"
        'def double_all(xs: List[int]) -> List[int]:\n    """Double."""\n',
        "entry_point": "double_all",
        "test": "def check(candidate):\n    assert candidate([1, 2]) == [2, 4]\n",
    }
    restated = (
        "```python\ndef double_all(xs: List[int]) -> List[int]:\n    return [helper(x) for x in xs]\n```"
    )
    assert grade(code_verifier, restated, ref, "restated").correct
    future = "```python\nfrom __future__ import annotations\n" + restated.removeprefix("```python\n")
    assert grade(code_verifier, future, ref, "restated").correct


def test_a_program_stops_at_its_first_failed_test(code_verifier):
    ref = {"tests": ["assert f(1) == 1", "assert f(2) == 2"]}
    slow = "```python\ndef f(x):\n    if x == 2:\n        while True:\n            pass\n    return 0\n```"
    verdict = grade(code_verifier, slow, ref, "stop")
    assert not verdict.correct and verdict.status == "ok" and verdict.detail.startswith("failed test 1/2")


def test_a_batch_in_parallel_keeps_each_verdict_with_its_program():
    verifier = get_verifier("code", workers=2, timeout=5.0)
    try:
        texts = [f"```python\ndef add(a, b):\n    return a + b + {k % 3 == 0}\n```" for k in range(24)]
        verdicts = verifier.grade([GradeItem("t", text, MBPP) for text in texts])
    finally:
        verifier.close()
    assert [v.correct for v in verdicts] == [k % 3 != 0 for k in range(24)]


def test_programs_do_not_see_each_others_files_or_state():
    verifier = get_verifier("code", workers=1, timeout=5.0)  # one zygote: every program follows the last
    leave = (
        "```python\nimport json, os, sys\nopen('note', 'w').write('secret')\njson.leaked = 1\n"
        "sys.modules['leak'] = json\nos.environ['LEAK'] = '1'\ndef add(a, b):\n    return a + b\n```"
    )
    look = (
        "```python\nimport glob, json, os, sys\n"
        "seen = glob.glob('../*/note') + glob.glob('../*/*/note') + glob.glob('/tmp/leash-*/*/note')\n"
        "dirty = bool(seen) or hasattr(json, 'leaked') or 'leak' in sys.modules or 'LEAK' in os.environ\n"
        "def add(a, b):\n    return None if dirty else a + b\n```"
    )
    try:
        verdicts = verifier.grade([GradeItem("t", text, MBPP) for text in [leave, look, leave, look]])
    finally:
        verifier.close()
    assert [v.correct for v in verdicts] == [True, True, True, True]


def test_huge_integers_compare_by_value(code_verifier):
    ref = {"tests": ["assert f() == 7 ** 6000", "assert [f(), 1] == [7 ** 6000, 1]"]}
    assert grade(code_verifier, "def f(): return 7 ** 6000", ref, "big").correct
    assert not grade(code_verifier, "def f(): return 7 ** 6000 + 1", ref, "big").correct


def test_programs_cannot_reach_the_fork_server():
    """The zygote is init of its PID namespace and not dumpable: a program can neither kill it,
    nor write to its pipes, nor read its memory; the next program grades as usual."""
    attacks = [
        "import os, signal\nfor s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):\n    os.kill(os.getppid(), s)",
        'import os\nfd = os.open(\'/proc/1/fd/1\', os.O_WRONLY)\nos.write(fd, b\'{"id": 1, "status": "ok"}\\n\')',
        "open('/proc/1/mem', 'rb').read(1)",
        "import ctypes\nassert ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0",  # PTRACE_ATTACH
        "import os\nos.kill(-1, 9)",
    ]
    verifier = get_verifier("code", workers=1, timeout=5.0)
    try:
        before = dict(verifier.pool.pool.zygotes)
        texts = [f"```python\n{a}\ndef add(a, b):\n    return a + b\n```" for a in attacks]
        verdicts = verifier.grade([GradeItem("t", text, MBPP) for text in [*texts, GOOD]])
        assert verifier.pool.pool.zygotes == before  # never restarted: it survived every attack
    finally:
        verifier.close()
    details = [v.detail for v in verdicts]
    assert verdicts[0].correct  # signals to init from inside its namespace are ignored: no harm done
    assert "PermissionError" in details[1] and "PermissionError" in details[2], details
    assert not verdicts[3].correct and "AssertionError" in details[3], details  # ptrace refused
    assert verdicts[-1].correct, details


def test_a_broken_reference_does_not_spoil_another_tasks_expected_values():
    verifier = get_verifier("code", workers=1, timeout=5.0)  # one worker: both tasks share a run
    broken = {"tests": ["assert add(1, 2) == 3"], "imports": ["import os\nos._exit(3)"]}
    try:
        bad, good = verifier.grade([GradeItem("broken", GOOD, broken), GradeItem("fine", GOOD, MBPP)])
    finally:
        verifier.close()
    assert bad.status == "error" and "did not compute" in bad.detail
    assert good.correct
