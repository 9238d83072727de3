"""Ray for `sample --backend ray`, `grade --executor ray` and `score --executor ray`.

The driver (the `leash` command) holds the table's writer lock for the whole job,
plans the missing keys exactly as a local run does and cuts them into work units.
`replicas` Ray actors, each holding its engine (a model, a verifier's worker pool,
a scorer), take one unit at a time and write its rows as one shard under
`<run>/.staging/<table>-<job>/unit-NNNNNN-aK.parquet` (K: the attempt), atomically;
the driver then moves that exact file into the table with one rename. So:

- a unit is committed once, by the driver, only when the attempt that wrote it
  returned: a retried unit (its actor was killed) never adds a key twice, and a
  late write by a dead attempt stays in staging and is removed at the end;
- a killed driver leaves only staging folders, which the next holder of the lock
  removes (their keys are planned again: texts depend on the seeds alone).

Workers write into the run directory directly: it must be a path every node sees
(a shared file system); a worker that cannot see it refuses in one line. Ray is
imported only here, inside the functions (`import leash` stays light).
"""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leash.errors import LeashError
from leash.store import Run, write_shard

__all__ = ["RaySpec", "UnitsDone", "connect", "run_units", "visible_problem"]

_RETRIES = 3  # attempts of one unit whose worker died, before the job gives up


@dataclass(frozen=True)
class RaySpec:
    """Where and how wide: `address` (None: a local cluster; "auto"; host:port; ray://...)."""

    replicas: int = 1
    address: str | None = None
    cpus: float = 1.0  # per replica
    gpus: float = 0.0  # per replica (vLLM / CUDA engines)
    options: dict[str, Any] = field(default_factory=dict)  # extra actor options (resources, ...)

    def check(self) -> None:
        if self.replicas < 1:
            raise LeashError(f"--replicas {self.replicas}: must be >= 1")
        if self.cpus < 0 or self.gpus < 0:
            raise LeashError(
                f"--cpus-per-replica {self.cpus:g} / --gpus-per-replica {self.gpus:g}: must be >= 0"
            )


@dataclass
class UnitsDone:
    rows: int = 0  # rows committed
    units: int = 0  # units committed
    retried: int = 0  # attempts redone because their worker died

    def note(self) -> str | None:
        if not self.retried:
            return None
        return f"{self.retried} work unit(s) were redone on a new Ray worker after theirs died"


def connect(spec: RaySpec) -> Any:
    """The `ray` module, connected: an existing session, the cluster at `address`, or a local one."""
    spec.check()
    try:
        import ray
    except ImportError:
        raise LeashError("Ray is not installed: pip install 'leash[ray]'") from None
    if not ray.is_initialized():
        _init(ray, spec.address)
    _check_fits(ray, spec)
    return ray


def _init(ray: Any, address: str | None) -> None:
    _check_reachable(address)
    import logging

    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=True,
        )
    except (ConnectionError, ValueError, RuntimeError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        where = address or "(a local cluster)"
        raise LeashError(
            f"--address {where}: cannot connect to Ray ({first}); start one with `ray start --head` "
            "and pass its address (or auto), or leave --address out for a local cluster"
        ) from None


def _check_reachable(address: str | None) -> None:
    """A host:port (or ray://host:port) that accepts no TCP connection is refused at once
    (Ray itself retries for minutes, printing a warning every few seconds)."""
    if address is None or address == "auto":
        return
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        if address.startswith("ray://"):
            host, port = rest, "10001"
        else:
            raise LeashError(f"--address {address}: use host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise LeashError(
            f"--address {address}: no Ray cluster answers there ({err.strerror or err}); start one with "
            "`ray start --head` and pass the address it prints, or leave --address out for a local one"
        ) from None


def visible_problem(root: Path, staging: Path) -> str | None:
    """Why a worker cannot use the run directory, or None when it sees the run and its staging folder."""
    if not (root / "run.json").is_file() or not staging.is_dir():
        return (
            f"ray worker on {socket.gethostname()}: cannot see the run directory {root} "
            "(the run must be on a file system every node mounts at the same path; see docs/scale.md)"
        )
    return None


class UnitWorker:
    """The Ray actor: builds a handler `factory(**options)` and turns units into staged shards.

    A handler has `process(payload) -> (rows: pa.Table, stats: dict)` and `close()`.
    """

    def __init__(self, factory: str, options: dict[str, Any], table: str, root: str, staging: str) -> None:
        self.factory, self.options, self.table = factory, options, table
        self.root, self.staging = Path(root), Path(staging)
        self.handler: Any = None

    def setup(self) -> dict[str, Any]:
        problem = visible_problem(self.root, self.staging)
        if problem is not None:
            raise LeashError(problem)
        if self.handler is None:
            module, _, name = self.factory.partition(":")
            self.handler = getattr(importlib.import_module(module), name)(**self.options)
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def run(self, name: str, payload: Any) -> dict[str, Any]:
        self.setup()
        rows, stats = self.handler.process(payload)
        path = write_shard(rows, self.table, self.staging / f"{name}.parquet")
        return {"file": path.name, "rows": rows.num_rows, "stats": stats, "pid": os.getpid()}

    def close(self) -> None:
        if self.handler is not None:
            self.handler.close()


def _check_fits(ray: Any, spec: RaySpec) -> None:
    """Refuse replicas the cluster cannot hold: Ray would wait for them forever, silently."""
    have = ray.cluster_resources()
    for what, per in (("CPU", spec.cpus), ("GPU", spec.gpus)):
        need, total = spec.replicas * per, float(have.get(what, 0.0))
        if need > total + 1e-9:
            raise LeashError(
                f"--replicas {spec.replicas} x {per:g} {what} per replica needs {need:g} {what}s and the "
                f"Ray cluster has {total:g}; lower --replicas or the {what}s per replica, or add nodes"
            )


def _user_error(err: Any, unit: str) -> LeashError:
    """A worker's exception as one line (a LeashError's own message when it is one)."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, LeashError):
        return LeashError(str(cause))
    text = str(cause if cause is not None else err).strip().splitlines()
    first = text[-1][:300] if text else type(err).__name__
    return LeashError(f"ray worker failed on {unit}: {first}")


def run_units(
    ray: Any,
    run: Run,
    table: str,
    units: Iterable[Any],
    factory: str,
    options: dict[str, Any],
    spec: RaySpec,
    on_commit: Callable[[dict[str, Any]], None],
    generation: str | None = None,
) -> UnitsDone:
    """Process every unit on `spec.replicas` actors and commit each unit's shard once.

    The caller holds `run.lock(table)`. A unit whose actor died is retried on a new actor
    (up to 3 attempts); an error raised by a handler stops the job (committed units stay).
    `on_commit` gets each committed unit's result (rows, stats) in commit order.
    """
    if not run.holds(table):
        raise RuntimeError(f"{table}: take `with run.lock({table!r}):` before running units")
    run.clear_staging(table)
    job = uuid.uuid4().hex[:12]
    staging = run.staging_dir(table, job)
    staging.mkdir(parents=True)
    actor_class = ray.remote(UnitWorker)

    def spawn() -> Any:
        return actor_class.options(
            num_cpus=spec.cpus, num_gpus=spec.gpus, max_restarts=0, max_task_retries=0, **spec.options
        ).remote(factory, options, table, str(run.path), str(staging))

    source: Iterator[Any] = iter(units)
    first = next(source, None)
    done = UnitsDone()
    if first is None:
        run.clear_staging(table)
        return done
    actors = [spawn() for _ in range(spec.replicas)]
    try:
        try:  # every replica loads its engine and checks the run directory before any unit
            ray.get([a.setup.remote() for a in actors])
        except ray.exceptions.RayError as err:
            raise _user_error(err, "start-up") from None
        retry: deque[tuple[int, Any]] = deque()
        attempts: dict[int, int] = {}
        inflight: dict[Any, tuple[Any, int, Any]] = {}
        idle = list(actors)
        count = 0
        nxt: Any = first
        while True:
            while idle and (retry or nxt is not None):
                if retry:
                    index, payload = retry.popleft()
                else:
                    index, payload, count = count, nxt, count + 1
                    nxt = next(source, None)
                attempts[index] = attempts.get(index, 0) + 1
                actor = idle.pop()
                ref = actor.run.remote(f"unit-{index:06d}-a{attempts[index]}", payload)
                inflight[ref] = (actor, index, payload)
            if not inflight:
                break
            ready, _ = ray.wait(list(inflight), num_returns=1)
            actor, index, payload = inflight.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayActorError:  # its process died (kill -9, OOM, a lost node)
                if attempts[index] >= _RETRIES:
                    raise LeashError(
                        f"unit-{index:06d} lost its Ray worker {attempts[index]} times; "
                        "check the cluster (`ray status`), then run the same command to resume"
                    ) from None
                actors.remove(actor)
                replacement = spawn()
                actors.append(replacement)
                idle.append(replacement)
                retry.append((index, payload))
                done.retried += 1
                continue
            except ray.exceptions.RayError as err:
                raise _user_error(err, f"unit-{index:06d}") from None
            run.commit_shard(table, staging / result["file"], generation)
            done.rows += result["rows"]
            done.units += 1
            on_commit(result)
            idle.append(actor)
        try:  # handlers stop their own worker processes (grading pools, sandboxes)
            ray.get([a.close.remote() for a in actors], timeout=60)
        except ray.exceptions.RayError:
            pass
    finally:
        for actor in actors:
            ray.kill(actor)
        run.clear_staging(table)  # late writes of dead attempts, never committed
    return done
