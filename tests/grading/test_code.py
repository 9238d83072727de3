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
    return get_verifier("code", timeout=5.0)


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
            if UID_BASE <= uid < UID_BASE + 100:  # the code sandbox's uids (zygotes use +100)
                alive.append((entry, uid))
    return alive


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
    while uids_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert uids_alive() == []
    # The grader read at most the capped output: its peak memory grew by far less than 1 GB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200 * 1024
