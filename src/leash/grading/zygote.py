"""A scorer process that lives inside the sandbox and forks once per job.

Started by `SandboxPool` under the sandbox (its own uid and namespaces), it reads
one JSON config line (import paths, what to score), imports the scorer once, then
for each JSON job line forks a child that scores it and reports through a private
pipe. The child closes the zygote's stdin and stdout first, and the zygote is not
dumpable, so a hostile answer that runs code (some reasoning-gym scorers `eval`
their input) can neither fake another job's verdict nor outlive its job: it is
killed at the job's limit, and the next job starts from the clean zygote.

Standard library only until the config line arrives: it may run under a Python
that is not the grader's.
"""

import ctypes
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


def main():
    _not_dumpable()
    config = json.loads(sys.stdin.readline())
    sys.path[:0] = config["paths"]
    sys.set_int_max_str_digits(0)
    score = _scorer(config["kind"])
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        job = json.loads(line)
        result = _run_job(score, job["args"], config["timeout"], config["cpu_seconds"])
        sys.stdout.write(json.dumps({"id": job["id"], **result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
