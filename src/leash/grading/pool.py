"""Worker processes with a hard wall-clock limit per job.

Library timeouts are not enough: Math-Verify's alarm raises only in a main thread
and some sympy loops never return to Python (a 50-deep nested fraction ran 60 s
past a 5 s alarm). Each job here runs in a worker process; a job past its deadline
gets its worker killed (SIGKILL) and replaced, and comes back as `TIMEOUT`.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["TIMEOUT", "JobError", "WorkerPool"]


class _Timeout:
    def __repr__(self) -> str:
        return "TIMEOUT"


TIMEOUT = _Timeout()


class JobError(Exception):
    """A job raised in its worker: the message carries the worker's exception."""


def _resolve(target: str) -> Callable[[Any], Any]:
    module, _, name = target.partition(":")
    fn: Callable[[Any], Any] = getattr(importlib.import_module(module), name)
    return fn


def _worker_main(conn: Connection, target: str, memory_bytes: int | None) -> None:
    # Huge integers must parse as what they are (Python refuses > 4300 digits by default,
    # and Math-Verify then silently takes an earlier expression).
    sys.set_int_max_str_digits(0)
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    fn = _resolve(target)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        idx, item = message
        try:
            conn.send((idx, True, fn(item)))
        except BaseException as err:  # Math-Verify's TimeoutException subclasses BaseException
            conn.send((idx, False, f"{type(err).__name__}: {err}"[:500] or traceback.format_exc(limit=1)))


class _Worker:
    def __init__(self, ctx: Any, target: str, memory_bytes: int | None) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, target, memory_bytes), daemon=True)
        self.process.start()
        child.close()
        self.job: int | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """`map` a function ("module:function") over items in `workers` processes, each job
    under `timeout` seconds of wall clock. Results come back as (index, value), where
    value is the function's return, `TIMEOUT`, or a `JobError`."""

    def __init__(
        self, target: str, workers: int = 2, timeout: float = 10.0, memory_bytes: int | None = 4 << 30
    ):
        self.target, self.timeout, self.memory_bytes = target, timeout, memory_bytes
        self.ctx = mp.get_context("spawn")
        self.workers = [_Worker(self.ctx, target, memory_bytes) for _ in range(max(1, workers))]

    def map(self, items: list[Any]) -> Iterator[tuple[int, Any]]:
        queue = list(enumerate(items))[::-1]
        busy: dict[Connection, _Worker] = {}
        idle = list(self.workers)
        while queue or busy:
            while queue and idle:
                worker = idle.pop()
                idx, item = queue.pop()
                worker.job, worker.deadline = idx, time.monotonic() + self.timeout
                try:
                    worker.conn.send((idx, item))
                except (BrokenPipeError, OSError):
                    yield idx, JobError("worker died before the job started")
                    idle.append(self._replace(worker))
                    continue
                busy[worker.conn] = worker
            if not busy:
                continue
            nearest = min(w.deadline for w in busy.values())
            ready = wait(list(busy), timeout=max(0.0, nearest - time.monotonic()))
            for ready_conn in ready:
                worker = busy.pop(ready_conn)  # type: ignore[call-overload]
                try:
                    idx, ok, value = worker.conn.recv()
                except (EOFError, OSError):  # the worker died (memory limit, a crash)
                    yield worker.job or 0, JobError("worker process died")
                    idle.append(self._replace(worker))
                    continue
                yield idx, value if ok else JobError(value)
                idle.append(worker)
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                if worker.deadline <= now:
                    del busy[conn]
                    yield worker.job or 0, TIMEOUT
                    idle.append(self._replace(worker))
        self.workers = idle

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self.ctx, self.target, self.memory_bytes)
        return fresh

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
        self.workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
