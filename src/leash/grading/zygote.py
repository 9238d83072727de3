"""A process that lives inside the sandbox and forks once per job (a fork server).

Started by `SandboxPool` under the sandbox (its own uid and namespaces), it reads
one JSON config line (import paths, what to run), then for each JSON job line forks
a child that does the job. The zygote never runs untrusted code itself, so every
child starts from the same clean state. Two kinds:

- `rg`: the child scores one answer with reasoning-gym and reports through a private
  pipe. It closes the zygote's stdin and stdout first, and the zygote is not dumpable,
  so a hostile answer that runs code (some scorers `eval` their input) can neither
  fake another job's verdict nor outlive its job.
- `code`: the child runs one program in the job's own fresh directory (written by the
  grader, 0700): its own session, rlimits set before the program's first line
  (address space, CPU, file size, open files, processes, no core), a cleared
  environment, stdin/stdout/stderr on files in that directory, every other
  descriptor closed, capabilities dropped. The program is `exec`'d as `__main__` in
  the forked interpreter, which saves the interpreter's start-up (~15 ms) per program.

At a job's wall-clock limit its process group is killed. After every job, when the
zygote is alone in its PID namespace (it is its init) or runs as a dedicated uid,
it SIGKILLs every other process it can signal, so nothing a job started (a daemon
that left the group) survives into the next job.

Standard library only until the config line arrives: it may run under a Python
that is not the grader's.
"""

import ctypes
import errno
import json
import os
import resource
import select
import signal
import sys
import time


def _not_dumpable():
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


# Entries are stored as JSON, which turns tuples into lists; these scorers compare the parsed
# answer (a tuple of tuples) with a metadata grid, so a correct answer would score 0.05.
_TUPLE_GRIDS = {"arc_agi": "output", "rearc": "output"}


def _restore_tuples(name, entry):
    key = _TUPLE_GRIDS.get(name)
    metadata = entry.get("metadata")
    if key and isinstance(metadata, dict) and isinstance(metadata.get(key), list):
        grid = metadata[key]
        restored = tuple(tuple(row) if isinstance(row, list) else row for row in grid)
        entry = {**entry, "metadata": {**metadata, key: restored}}
    return entry


def _scorer(kind):
    if kind == "rg":
        import reasoning_gym

        cache = {}

        def score(args):
            name = args["dataset"]
            if name not in cache:
                cache[name] = reasoning_gym.get_score_answer_fn(name)
            return float(cache[name](args["answer"], _restore_tuples(name, args["entry"])))

        return score
    raise SystemExit(f"unknown scorer kind {kind!r}")


def _run_job(score, args, timeout, cpu_seconds):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no way back to the zygote's streams
        os.close(read_end)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        try:
            result = {"status": "ok", "value": score(args)}
        except BaseException as err:  # a scorer's exception is a verdict, not a crash
            result = {"status": "error", "value": f"{type(err).__name__}: {err}"[:300]}
        payload = json.dumps(result).encode()
        os.write(write_end, payload)
        os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            return {"status": "timeout", "value": None}
        ready, _, _ = select.select([read_end], [], [], remaining)
        if ready:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            data += chunk
            if len(data) > 1 << 20:
                os.kill(pid, signal.SIGKILL)
                break
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        return json.loads(data)
    except ValueError:
        return {"status": "error", "value": "the scorer died without a result"}


_RLIMITS = {
    "memory_bytes": resource.RLIMIT_AS,
    "cpu_seconds": resource.RLIMIT_CPU,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


def _drop_capabilities():
    """No capabilities left (matters where the zygote is root of its own user namespace)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)()
        for cap in range(64):
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
        libc.capset(header, data)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    except (OSError, AttributeError):
        pass


_SCRIPTS: dict = {}  # name -> code object: scripts the config ships, compiled once for every fork


def _child(job):
    """In the forked child: become the program's process, run it, never return."""
    code = 1
    try:
        os.setsid()
        os.chdir(job["dir"])
        fds = [os.open("stdin", os.O_RDONLY | os.O_NOFOLLOW)]
        fds += [os.open(name, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW) for name in ("stdout", "stderr")]
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        for name, which in _RLIMITS.items():
            resource.setrlimit(which, (job["limits"][name], job["limits"][name]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.geteuid() == 0:
            _drop_capabilities()
        os.environ.clear()
        os.environ.update(job["env"])
        # Fresh streams on the program's own files (the zygote's may hold buffered bytes).
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = list(job["argv"])
        sys.path[0] = job["dir"]
        main_file = job["argv"][0]
        program = _SCRIPTS.get(main_file)
        if program is None:
            with open(main_file) as f:
                program = compile(f.read(), main_file, "exec")
        code = 0
        exec(program, {"__name__": "__main__", "__file__": main_file, "__builtins__": __builtins__})
    except SystemExit as err:  # what `python main.py` does with sys.exit(x)
        if err.code is None:
            code = 0
        elif isinstance(err.code, int):
            code = err.code & 0xFF
        else:
            code = 1
            _report(str(err.code))
    except BaseException:
        code = 1
        _report(None)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def _report(text):
    try:
        if text is None:
            import traceback

            traceback.print_exc()
        else:
            print(text, file=sys.stderr)
    except BaseException:
        pass


def _sweep(may_sweep):
    """Kill whatever a job left behind, and reap every child."""
    if may_sweep:
        for _ in range(2):
            try:
                os.kill(-1, signal.SIGKILL)  # never the caller itself; never init from inside
            except ProcessLookupError:
                break
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if may_sweep else os.WNOHANG)
        except ChildProcessError:
            return
        except OSError as err:
            if err.errno != errno.EINTR:
                return
            continue
        if pid == 0:
            return


_INPUT = bytearray()  # what the grader sent and no one has read yet (a job line, stop requests)
_EOF: list = []  # non-empty once the grader closed its end


def _read_input():
    chunk = os.read(0, 65536)  # jobs name files; no program text passes through here
    if chunk:
        _INPUT.extend(chunk)
    else:
        _EOF.append(True)


def _take_stop(job_id):
    """Remove a `stop <job_id>` line from the input, if there is one."""
    marker = b"stop %d\n" % job_id
    at = _INPUT.find(marker)
    if at == -1 or (at > 0 and _INPUT[at - 1 : at] != b"\n"):
        return False
    del _INPUT[at : at + len(marker)]
    return True


def _wait_child(pid, deadline, job_id):
    """Until the child exits, the deadline passes, or the grader asks to stop this job:
    "exited" | "timeout" | "stopped". While a job runs the grader sends nothing but
    `stop <id>` (it has seen a failed test); end of input means the grader is gone.
    It never queues the next job meanwhile: that job's files would then exist, owned by
    this uid, while this job's program runs."""
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None  # Linux >= 5.3
    try:
        while True:
            if _take_stop(job_id) or _EOF:
                return "stopped"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            if pidfd is None:  # poll the child every 5 ms, without reaping it
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return "exited"
                ready, _, _ = select.select([0], [], [], min(remaining, 0.005))
            else:
                ready, _, _ = select.select([pidfd, 0], [], [], remaining)
                if pidfd in ready:
                    return "exited"
            if 0 in ready:
                _read_input()
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _run_program(job_id, job, may_sweep):
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(job)
    how = _wait_child(pid, start + job["wall_seconds"], job_id)
    if how != "exited":
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    _sweep(may_sweep)
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "timed_out": how == "timeout",
        "stopped": how == "stopped",
        "seconds": time.monotonic() - start,
    }


def _remove_own_dir():
    """The grader closed its end (it ended, or crashed): leave nothing behind."""
    import shutil

    shutil.rmtree(os.getcwd(), ignore_errors=True)


def main():
    _not_dumpable()
    config = json.loads(sys.stdin.readline())
    sys.path[:0] = config["paths"]
    if config["kind"] == "code":
        _serve_code(config)
        _remove_own_dir()
        return
    sys.set_int_max_str_digits(0)
    score = _scorer(config["kind"])
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        job = json.loads(line)
        result = _run_job(score, job["args"], config["timeout"], config["cpu_seconds"])
        sys.stdout.write(json.dumps({"id": job["id"], **result}) + "\n")
        sys.stdout.flush()
    _remove_own_dir()


def _serve_code(config):
    # What programs commonly import, loaded once here so each fork has it for free.
    for name in config.get("preload", []):
        try:
            __import__(name)
        except ImportError:
            pass
    import gc

    for name, source in config.get("scripts", {}).items():
        _SCRIPTS[name] = compile(source, name, "exec")
    gc.freeze()  # the preloaded objects are never scanned, so a fork's pages stay shared
    may_sweep = os.getpid() == 1 or config.get("dedicated_uid", False)
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    while True:
        while b"\n" not in _INPUT:
            if _EOF:
                return
            _read_input()
        at = _INPUT.index(b"\n")
        line = bytes(_INPUT[:at])
        del _INPUT[: at + 1]
        if not line.startswith(b"{"):
            continue  # a request to stop a job that had already ended
        job = json.loads(line)
        result = _run_program(job["id"], job["args"], may_sweep)
        sys.stdout.write(json.dumps({"id": job["id"], "status": "ok", "value": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
