"""Running hostile code: layered isolation, probed once, reported by `leash doctor`.

Layers, from always present to what the machine allows:

1. process  a separate process in its own session, killed as a group at the wall-clock
            limit; a fresh 0700 temp dir as cwd; a cleared environment; rlimits
            through util-linux `prlimit` (address space 1 GiB, CPU seconds, file size
            64 MiB, open files, processes, no core); stdout/stderr read with a cap, the
            group killed when the cap is hit.
2. uid      when the grader is root: the program runs as a dedicated unprivileged uid
            (one per concurrent slot), since RLIMIT_NPROC does not bind root, and every
            process of that uid is killed afterwards.
3. ns       `unshare`: no network (a fresh network namespace), its own PID namespace
            (it cannot see or signal the grader; everything dies with its init).

Measured on this kind of machine (Debian, root): unshare + setpriv held all ten
attacks of the test battery at ~+8 ms per run; a plain subprocess as root held 4.
Landlock + seccomp are not used yet (doctor says so).

`run_program` starts one program under all layers. `ProgramPool` runs many through
fork servers (zygote.py): one zygote per worker under all layers, forking a child
per program that gets layer 1 afresh (session, rlimits, its own 0700 directory,
cleared environment), the zygote's uid and namespaces, and a sweep of everything it
started before the next program — without paying a Python start-up per program. Without layer 2 a program
can touch files its user owns: `level` is then "namespaces" or "process", run.json
records it, and `--strict` refuses to grade.
"""

from __future__ import annotations

import atexit
import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = [
    "Capabilities",
    "Limits",
    "Program",
    "ProgramPool",
    "SandboxPool",
    "SandboxResult",
    "probe",
    "run_program",
    "sandbox_command",
]

UID_BASE = 61000  # slot k runs as uid UID_BASE + k


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30  # address space
    file_bytes: int = 64 << 20
    open_files: int = 64
    processes: int = 64
    output_bytes: int = 1 << 20  # per stream, read by the grader


@dataclass(frozen=True)
class Capabilities:
    root: bool
    uid_switch: bool
    namespaces: bool
    prlimit: bool
    interpreter: str  # a Python the sandbox uid can execute
    level: str  # "namespaces+uid" | "uid" | "namespaces" | "process"
    notes: tuple[str, ...]

    @property
    def full(self) -> bool:
        return self.uid_switch and self.namespaces


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    output_capped: bool
    seconds: float
    stopped: bool = False  # ended early at the grader's request (ProgramPool.run's `stop`)


def _world_executable(path: str) -> bool:
    """Whether every directory on the way to `path` is searchable by others and it is executable."""
    p = Path(path).resolve()
    for parent in [*reversed(p.parents), p]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            return False
    return True


def _interpreter() -> str:
    if _world_executable(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if os.path.exists(candidate) and _world_executable(candidate):
            return candidate
    return sys.executable


@functools.cache
def probe() -> Capabilities:
    """What isolation this machine offers, found by trying it once."""
    root = os.geteuid() == 0
    notes = []
    has_prlimit = shutil.which("prlimit") is not None
    if not has_prlimit:
        notes.append("prlimit not found (util-linux): resource limits are not applied")
    interpreter = _interpreter()
    uid_switch = root and shutil.which("setpriv") is not None and _world_executable(interpreter)
    if root and not uid_switch:
        notes.append("running as root without setpriv or a world-executable Python: no uid switch")
    namespaces = False
    if shutil.which("unshare"):
        argv = ["unshare", *_unshare_flags(root), "true"]
        try:
            namespaces = subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            namespaces = False
    if not namespaces:
        notes.append("unshare of network and PID namespaces is not permitted here")
    if uid_switch and namespaces:
        level = "namespaces+uid"
    elif uid_switch:
        level = "uid"
    elif namespaces:
        level = "namespaces"
    else:
        level = "process"
    notes.append("Landlock and seccomp: not used")
    return Capabilities(root, uid_switch, namespaces, has_prlimit, interpreter, level, tuple(notes))


def _unshare_flags(root: bool) -> list[str]:
    flags = ["--net", "--pid", "--fork", "--mount-proc", "--kill-child"]
    return flags if root else ["--user", "--map-root-user", *flags]


def sandbox_command(argv: list[str], limits: Limits, slot: int = 0) -> list[str]:
    """The full command line: prlimit, unshare and setpriv around `argv`, as available."""
    caps = probe()
    prefix: list[str] = []
    if caps.prlimit:
        prefix += [
            "prlimit",
            f"--as={limits.memory_bytes}",
            f"--cpu={limits.cpu_seconds}",
            f"--fsize={limits.file_bytes}",
            f"--nofile={limits.open_files}",
            f"--nproc={limits.processes}",
            "--core=0",
            "--",
        ]
    if caps.namespaces:
        prefix += ["unshare", *_unshare_flags(caps.root)]
    if caps.uid_switch:
        uid = UID_BASE + slot
        prefix += [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
        ]
    return prefix + argv


def _environment(workdir: Path) -> dict[str, str]:
    """A cleared environment: nothing of the grader's, home and temp in the sandbox's own dir."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLCONFIGDIR": str(workdir),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def _spawn(argv: list[str], workdir: Path, limits: Limits, slot: int) -> subprocess.Popen[bytes]:
    """Start `argv` in `workdir` under the sandbox, in a session of its own, with piped streams."""
    return subprocess.Popen(
        sandbox_command(argv, limits, slot),
        cwd=workdir,
        env=_environment(workdir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (what escaped the process group, when not in a PID namespace)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                os.kill(int(entry), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue


def _read_capped(
    proc: subprocess.Popen[bytes], limits: Limits, deadline: float
) -> tuple[bytes, bytes, bool, bool]:
    """Read both streams until EOF, the cap (then kill) or the deadline (then kill)."""
    assert proc.stdout is not None and proc.stderr is not None
    buffers = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        selector.register(stream, selectors.EVENT_READ)
    capped = timed_out = False
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(timeout=min(remaining, 0.5)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            buf = buffers[key.fileobj]  # type: ignore[index]
            buf.extend(chunk[: max(0, limits.output_bytes - len(buf))])
            if len(buf) >= limits.output_bytes:
                capped = True
        if capped:
            break
    selector.close()
    return bytes(buffers[proc.stdout]), bytes(buffers[proc.stderr]), timed_out, capped


def run_program(
    files: dict[str, str],
    argv: list[str],
    stdin: bytes = b"",
    limits: Limits | None = None,
    slot: int = 0,
) -> SandboxResult:
    """Write `files` into a fresh temp dir and run `argv` there under the sandbox.

    `argv[0] == "python"` means the sandbox's Python interpreter.
    """
    limits = limits or Limits()
    caps = probe()
    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="leash-sbx-"))
    os.chmod(workdir, 0o700)
    uid = UID_BASE + slot
    try:
        for name, text in files.items():
            (workdir / name).write_text(text)
        if caps.uid_switch:
            os.chown(workdir, uid, uid)
            for name in files:
                os.chown(workdir / name, uid, uid)
        argv = [caps.interpreter if a == "python" else a for a in argv]
        proc = _spawn(argv, workdir, limits, slot)
        feeder = threading.Thread(target=_feed, args=(proc, stdin), daemon=True)
        feeder.start()
        out, err, timed_out, capped = _read_capped(proc, limits, start + limits.wall_seconds)
        if timed_out or capped:
            _kill_group(proc)
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            code = proc.wait()
        if caps.uid_switch and not caps.namespaces:
            kill_uid(uid)
        return SandboxResult(
            None if timed_out or capped else code, out, err, timed_out, capped, time.monotonic() - start
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class SandboxPool:
    """Zygotes (see zygote.py) inside the sandbox, one per slot, one job each at a time.

    `map` yields (index, {"status": ok|error|timeout, "value": ...}); a zygote that
    stops answering (past the job limit plus a margin) is killed and restarted.
    `kind` "rg" scores answers; "code" runs programs (use `ProgramPool`).
    """

    UID_OFFSETS: ClassVar[dict[str, int]] = {"rg": 100, "code": 200}  # zygote uids: UID_BASE + offset + slot

    def __init__(
        self,
        kind: str,
        workers: int = 2,
        timeout: float = 10.0,
        memory_bytes: int = 2 << 30,
        limits: Limits | None = None,
        config: dict | None = None,
    ):
        self.kind, self.timeout, self.memory_bytes = kind, timeout, memory_bytes
        # The zygote's own limits; a code zygote's children lower them per program.
        self.limits = limits or Limits(cpu_seconds=10**6, memory_bytes=memory_bytes, processes=256)
        self.config = config or {}
        self.slots = list(range(max(1, workers)))
        # Started together, then awaited: the slots' start-ups overlap.
        launched = {slot: self._launch(slot) for slot in self.slots}
        self.zygotes = {slot: self._ready(z) for slot, z in launched.items()}

    def uid(self, slot: int) -> int:
        return UID_BASE + self.UID_OFFSETS.get(self.kind, 100) + slot

    def _launch(self, slot: int) -> _Zygote:
        import json
        import site

        caps = probe()
        workdir = Path(tempfile.mkdtemp(prefix=f"leash-zygote-{self.kind}-", dir=_scratch()))
        os.chmod(workdir, 0o700)
        shutil.copy(Path(__file__).with_name("zygote.py"), workdir / "zygote.py")
        uid = self.uid(slot)
        if caps.uid_switch:
            os.chown(workdir, uid, uid)
        offset = self.uid(slot) - UID_BASE
        proc = _spawn([caps.interpreter, "-I", "zygote.py"], workdir, self.limits, offset)
        paths = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if os.path.isdir(p)]
        config = {
            "paths": paths if self.kind != "code" else [],  # programs see the interpreter's own packages only
            "kind": self.kind,
            "timeout": self.timeout,
            "cpu_seconds": int(self.timeout) + 1,
            "dedicated_uid": caps.uid_switch,
            **self.config,
        }
        zygote = _Zygote(proc, workdir, uid)
        zygote.send(json.dumps(config))
        return zygote

    def _start(self, slot: int) -> _Zygote:
        return self._ready(self._launch(slot))

    def _ready(self, zygote: _Zygote) -> _Zygote:
        ready = zygote.read_line(time.monotonic() + 120)
        if ready is None or "ready" not in ready:
            err = zygote.stderr_tail()
            zygote.kill()
            raise RuntimeError(f"the sandboxed {self.kind} zygote did not start: {err or 'no output'}")
        return zygote

    def map(
        self,
        items: list[dict],
        prepare: Callable[[int, int, dict], dict] | None = None,
        stop: Callable[[int], bool] | None = None,
        poll_after: float = 0.05,
    ) -> Iterator[tuple[int, dict]]:
        """Run every item; `prepare(slot, index, item)`, when given, turns an item into the job
        sent to that slot's zygote, just before it is sent. `stop(index)`, when given, is asked
        every ~10 ms about a job running longer than `poll_after` seconds: True asks the zygote
        to end it (a code zygote kills the program)."""
        import json

        queue = list(enumerate(items))[::-1]
        busy: dict[int, tuple[int, float]] = {}
        started: dict[int, float] = {}
        stopping: set[int] = set()
        while queue or busy:
            for slot in self.slots:
                if slot not in busy and queue:
                    idx, args = queue.pop()
                    job = prepare(slot, idx, args) if prepare else args
                    self.zygotes[slot].send(json.dumps({"id": idx, "args": job}))
                    busy[slot] = (idx, time.monotonic() + self.timeout + 5.0)
                    started[slot] = time.monotonic()
            until = min(d for _, d in busy.values())
            if stop is not None:
                until = min(until, time.monotonic() + 0.01)
            ready = self._wait([self.zygotes[s] for s in busy], until)
            for slot, (idx, deadline) in list(busy.items()):
                zygote = self.zygotes[slot]
                line = zygote.read_line(0.0) if zygote in ready or zygote.buffer else None
                if line is not None:
                    del busy[slot]
                    stopping.discard(slot)
                    yield idx, {"status": line.get("status", "error"), "value": line.get("value")}
                elif (
                    stop is not None
                    and slot not in stopping
                    and time.monotonic() - started[slot] > poll_after
                    and stop(idx)
                ):
                    stopping.add(slot)
                    zygote.send(f"stop {idx}")
                elif zygote.dead or time.monotonic() >= deadline:
                    del busy[slot]
                    stopping.discard(slot)
                    status = "timeout" if not zygote.dead else "error"
                    zygote.kill()
                    self.zygotes[slot] = self._start(slot)
                    yield idx, {"status": status, "value": "the sandboxed zygote stopped answering"}

    @staticmethod
    def _wait(zygotes: list[_Zygote], deadline: float) -> set[_Zygote]:
        """The zygotes with something to read (or a full line buffered), waiting until `deadline`."""
        import select as _select

        buffered = {z for z in zygotes if b"\n" in z.buffer or z.dead}
        if buffered:
            return buffered
        by_fd = {z.fd: z for z in zygotes}
        ready, _, _ = _select.select(list(by_fd), [], [], max(0.0, deadline - time.monotonic()))
        return {by_fd[fd] for fd in ready}

    def close(self) -> None:
        """End every zygote: its input closed, it exits (its CPU time then counts in the grader's
        RUSAGE_CHILDREN); one still running after a second is killed."""
        for zygote in self.zygotes.values():
            zygote.end_input()
        deadline = time.monotonic() + 1.0
        for zygote in self.zygotes.values():
            try:
                zygote.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            zygote.kill()
        self.zygotes = {}


@dataclass(frozen=True)
class Program:
    """One Python program: files for its fresh directory, argv (the script, then its arguments:
    what `python -I SCRIPT ARGS...` would get), stdin."""

    files: dict[str, str]
    argv: list[str]
    stdin: bytes = b""


def _scratch() -> str | None:
    """Where zygotes keep their job dirs: memory-backed /dev/shm when it is usable (a job's
    files cost no disk round trips), else the default temp dir."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


class ProgramPool:
    """Programs run by sandboxed fork servers: `workers` code zygotes, one program each at a time.

    Every program gets every layer `run_program` gives it: a fresh 0700 directory of its
    own (written here, removed after), its own session killed as a group at the wall
    limit, the same rlimits, a cleared environment, the sandbox uid and namespaces (the
    zygote's: no network, its own PID namespace), and everything it started killed
    before the next program. What differs: the interpreter is forked, not started, so
    the program runs in a copy of a clean interpreter that has already imported the
    standard modules; stdout/stderr go to files (bounded by the file-size limit) read
    here up to the output cap.
    """

    PRELOAD: ClassVar[list[str]] = [
        "json",
        "math",
        "re",
        "collections",
        "itertools",
        "functools",
        "string",
        "typing",
        "heapq",
    ]

    def __init__(
        self, workers: int = 2, limits: Limits | None = None, scripts: dict[str, str] | None = None
    ) -> None:
        """`scripts`: {name: source} compiled once in each zygote; a program whose argv[0] is
        such a name runs that code (its files need not hold it)."""
        self.program_limits = limits or Limits()
        self.caps = probe()
        lim = self.program_limits
        # The zygote needs no more than its programs, except CPU time (it lives for all of them).
        zygote_limits = Limits(
            cpu_seconds=10**6,
            memory_bytes=lim.memory_bytes,
            file_bytes=lim.file_bytes,
            open_files=max(lim.open_files, 64),
            processes=lim.processes,
        )
        self.pool = SandboxPool(
            "code",
            workers,
            lim.wall_seconds,
            limits=zygote_limits,
            config={"preload": self.PRELOAD, "scripts": scripts or {}},
        )
        self._open: dict[int, tuple[Path, int, int, float]] = {}

    def _prepare(self, slot: int, idx: int, program: Program) -> dict:
        zygote = self.pool.zygotes[slot]
        jobdir = Path(tempfile.mkdtemp(prefix="job-", dir=zygote.workdir))
        for name, text in program.files.items():
            (jobdir / name).write_text(text)
        (jobdir / "stdin").write_bytes(program.stdin)
        for name in ("stdout", "stderr"):
            (jobdir / name).touch(0o600)
        if self.caps.uid_switch:
            for path in [jobdir, *jobdir.iterdir()]:
                os.chown(path, zygote.uid, zygote.uid)
        # Read through descriptors opened now, before the program runs: whatever it does to
        # the names in its directory (a symlink, a FIFO), the grader reads the files it wrote to.
        out = os.open(jobdir / "stdout", os.O_RDONLY | os.O_NOFOLLOW)
        err = os.open(jobdir / "stderr", os.O_RDONLY | os.O_NOFOLLOW)
        self._open[idx] = (jobdir, out, err, time.monotonic())
        lim = self.program_limits
        return {
            "dir": str(jobdir),
            "argv": program.argv,
            "env": _environment(jobdir),
            "wall_seconds": lim.wall_seconds,
            "limits": {
                "memory_bytes": lim.memory_bytes,
                "cpu_seconds": lim.cpu_seconds,
                "file_bytes": lim.file_bytes,
                "open_files": lim.open_files,
                "processes": lim.processes,
            },
        }

    def _collect(self, idx: int, answer: dict) -> SandboxResult:
        jobdir, out_fd, err_fd, start = self._open.pop(idx)
        cap = self.program_limits.output_bytes
        try:
            out, err = os.read(out_fd, cap), os.read(err_fd, cap)
        finally:
            os.close(out_fd)
            os.close(err_fd)
            shutil.rmtree(jobdir, ignore_errors=True)
        capped = len(out) >= cap or len(err) >= cap
        value = answer.get("value") if answer["status"] == "ok" else None
        timed_out = answer["status"] == "timeout" or bool(isinstance(value, dict) and value.get("timed_out"))
        code = value.get("exit_code") if isinstance(value, dict) else None
        stopped = bool(isinstance(value, dict) and value.get("stopped"))
        if answer["status"] == "error":
            err += b"\nthe sandboxed zygote died"
        return SandboxResult(
            None if timed_out or capped else code,
            out,
            err,
            timed_out,
            capped,
            time.monotonic() - start,
            stopped,
        )

    def run(
        self, programs: list[Program], stop: Callable[[int, bytes], bool] | None = None
    ) -> Iterator[tuple[int, SandboxResult]]:
        """(index, result) for every program, in the order they finish. `stop(index, stdout so
        far)`, asked now and then while a program runs, may end it early (result.stopped)."""

        def ask(idx: int) -> bool:
            assert stop is not None
            return stop(idx, os.pread(self._open[idx][1], self.program_limits.output_bytes, 0))

        try:
            jobs = self.pool.map(programs, self._prepare, ask if stop else None)  # type: ignore[arg-type]
            for idx, answer in jobs:
                yield idx, self._collect(idx, answer)
        finally:
            for idx in list(self._open):  # a consumer that stopped early
                self._collect(idx, {"status": "error"})

    def close(self) -> None:
        self.pool.close()


_LIVE: set[_Zygote] = set()  # zygotes not yet killed: killed at exit, their dirs removed


@atexit.register
def _kill_live_zygotes() -> None:
    for zygote in list(_LIVE):
        zygote.kill()


class _Zygote:
    def __init__(self, proc: subprocess.Popen[bytes], workdir: Path, uid: int) -> None:
        self.proc, self.workdir, self.uid = proc, workdir, uid
        _LIVE.add(self)
        self.buffer = b""
        self.dead = False
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.dead = True

    def read_line(self, deadline: float) -> dict | None:
        import json
        import select as _select

        fd = self.fd
        while b"\n" not in self.buffer:
            if self.dead:
                return None
            # At least one poll, even past the deadline: an answer already sent is read.
            ready, _, _ = _select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self.dead = True
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            parsed: dict = json.loads(line)
        except ValueError:
            return {"status": "error", "value": "unreadable answer from the scorer"}
        return parsed

    def stderr_tail(self) -> str:
        assert self.proc.stderr is not None
        os.set_blocking(self.proc.stderr.fileno(), False)
        try:
            data = self.proc.stderr.read() or b""
        except OSError:
            data = b""
        return data.decode(errors="replace").strip().splitlines()[-1][:300] if data.strip() else ""

    def end_input(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass

    def kill(self) -> None:
        _LIVE.discard(self)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        if probe().uid_switch and not probe().namespaces:
            kill_uid(self.uid)
        shutil.rmtree(self.workdir, ignore_errors=True)
