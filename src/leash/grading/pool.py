"""Worker processes with a hard wall-clock limit per job.

Library timeouts are not enough: Math-Verify's alarm raises only in a main thread
and some sympy loops never return to Python (a 50-deep nested fraction ran 60 s
past a 5 s alarm). Each job here runs in a worker process; a job past its deadline
gets its worker killed (SIGKILL) and replaced, and comes back as `TIMEOUT`. A job's
clock starts only once its worker is ready: the worker imports its function (and runs
the module's `warm_up()`, if it has one) and says so before it takes a job, so a slow
start on a loaded machine never turns into a timeout verdict.

Workers are plain `python -m leash.grading.pool` subprocesses speaking
length-prefixed pickles over their stdin/stdout: unlike multiprocessing's spawn,
they never re-import the caller's `__main__`, so a script or notebook without an
`if __name__ == "__main__"` guard works too.
"""

from __future__ import annotations

import importlib
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["TIMEOUT", "JobError", "WorkerPool"]

_HEADER = struct.Struct("<Q")
_READY = -1  # the index of the frame a worker sends once it has imported its function
_START_LIMIT = 300.0  # seconds a worker may take to start (imports on a loaded machine)


class _Timeout:
    def __repr__(self) -> str:
        return "TIMEOUT"


TIMEOUT = _Timeout()


class JobError(Exception):
    """A job raised in its worker, or its worker died: the message says which."""


def _write_frame(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _worker_main(target: str, memory_bytes: int) -> None:
    # Huge integers must parse as what they are (Python refuses > 4300 digits by default,
    # and Math-Verify then silently takes an earlier expression).
    sys.set_int_max_str_digits(0)
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # library prints must not corrupt the frames
    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    fn: Callable[[Any], Any] = getattr(module, name)
    warm_up = getattr(module, "warm_up", None)
    if callable(warm_up):
        warm_up()  # heavy imports happen here, before any job's clock starts
    _write_frame(out, (_READY, True, None))
    stdin = sys.stdin.fileno()
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exact(stdin, _HEADER.size))
            idx, item = pickle.loads(_read_exact(stdin, size))
        except EOFError:
            return
        try:
            _write_frame(out, (idx, True, fn(item)))
        except BaseException as err:  # Math-Verify's TimeoutException subclasses BaseException
            _write_frame(out, (idx, False, f"{type(err).__name__}: {err}"[:500]))


class _Worker:
    def __init__(self, target: str, memory_bytes: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leash.grading.pool", target, str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.job: int = -1
        self.deadline = 0.0
        self.ready = False

    def wait_ready(self) -> None:
        """Block until the worker has imported its function, so start-up never counts
        against a job's time limit. A worker that dies or hangs at start-up is left for
        `send`/`receive` to report as died."""
        if self.ready:
            return
        self.ready = True
        ready, _, _ = select.select([self.fd], [], [], _START_LIMIT)
        if not ready:
            self.kill()
            return
        try:
            self.receive()
        except (EOFError, OSError, pickle.UnpicklingError):
            pass

    @property
    def fd(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def send(self, idx: int, item: Any) -> None:
        assert self.proc.stdin is not None
        _write_frame(self.proc.stdin, (idx, item))

    def receive(self) -> tuple[int, bool, Any]:
        (size,) = _HEADER.unpack(_read_exact(self.fd, _HEADER.size))
        result: tuple[int, bool, Any] = pickle.loads(_read_exact(self.fd, size))
        return result

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


class WorkerPool:
    """`map` a function ("module:function") over items in `workers` processes, each job
    under `timeout` seconds of wall clock. Results come back as (index, value), where
    value is the function's return, `TIMEOUT`, or a `JobError`."""

    def __init__(self, target: str, workers: int = 2, timeout: float = 10.0, memory_bytes: int = 4 << 30):
        self.target, self.timeout, self.memory_bytes = target, timeout, memory_bytes
        self.workers = [_Worker(target, memory_bytes) for _ in range(max(1, workers))]

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        return _Worker(self.target, self.memory_bytes)

    def map(self, items: list[Any]) -> Iterator[tuple[int, Any]]:
        queue = list(enumerate(items))[::-1]
        idle: list[_Worker] = list(self.workers)
        busy: dict[int, _Worker] = {}
        try:
            while queue or busy:
                while queue and idle:
                    worker = idle.pop()
                    worker.wait_ready()
                    worker.job, item = queue.pop()
                    worker.deadline = time.monotonic() + self.timeout
                    try:
                        worker.send(worker.job, item)
                    except (BrokenPipeError, OSError):
                        yield worker.job, JobError("worker process died")
                        idle.append(self._replace(worker))
                        continue
                    busy[worker.fd] = worker
                if not busy:
                    continue
                nearest = min(w.deadline for w in busy.values())
                ready, _, _ = select.select(list(busy), [], [], max(0.0, nearest - time.monotonic()))
                for fd in ready:
                    worker = busy.pop(fd)
                    try:
                        idx, ok, value = worker.receive()
                    except (EOFError, OSError, pickle.UnpicklingError):  # killed by its memory limit, a crash
                        yield worker.job, JobError("worker process died")
                        idle.append(self._replace(worker))
                        continue
                    yield idx, value if ok else JobError(value)
                    idle.append(worker)
                now = time.monotonic()
                for fd, worker in list(busy.items()):
                    if worker.deadline <= now:
                        del busy[fd]
                        yield worker.job, TIMEOUT
                        idle.append(self._replace(worker))
        finally:
            # A consumer that stops early leaves jobs in flight: those workers start afresh.
            self.workers = idle + [self._replace(w) for w in busy.values()]

    def close(self) -> None:
        for worker in self.workers:
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()
            try:
                worker.proc.wait(2)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    _worker_main(sys.argv[1], int(sys.argv[2]))
