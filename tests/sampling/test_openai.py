"""The openai backend against a real OpenAI-compatible server on loopback (transformers serve).

transformers serve ignores `n` (one choice per request) and may ignore temperature
and top-p: the backend must notice the missing choices and ask again.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from leash.errors import LeashError
from leash.sampling import SamplingParams, sample_run
from leash.store import open_run

PARAMS = SamplingParams(max_tokens=12, seed=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tiny_model):
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if exe is None:
        pytest.fail("transformers serve is not installed (pip install 'transformers[serving]')")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [exe, "serve", str(tiny_model), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("transformers serve did not come up within 90 s")
    yield f"{url}/v1"
    proc.terminate()
    proc.wait(timeout=30)


def test_n_samples_per_task_from_a_server_that_ignores_n(server, tiny_model, short_tasks, tmp_path):
    options = {"base_url": [server], "concurrency": 4}
    summary = sample_run(str(tiny_model), f"file:{short_tasks}", 3, tmp_path / "run", backend="openai",
                         params=PARAMS, backend_options=options)  # fmt: skip
    assert summary.samples_total == 12
    rows = open_run(tmp_path / "run").read("samples").to_pylist()
    assert sorted((r["task_id"], r["sample_idx"]) for r in rows) == [
        (f"t{i}", j) for i in range(4) for j in range(3)
    ]
    assert all(r["seed"] is None and r["finish_reason"] in ("stop", "length") for r in rows)
    assert all(1 <= r["n_tokens"] <= 12 for r in rows)  # one choice per response: usage counts it


def test_unreachable_server_keeps_what_was_sampled(server, tiny_model, short_tasks, tmp_path):
    sample_run(str(tiny_model), f"file:{short_tasks}", 2, tmp_path / "run", backend="openai",
               params=PARAMS, backend_options={"base_url": [server]})  # fmt: skip
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(
        LeashError, match=r"no server answered after 2 tries .* samples of this call are kept"
    ):
        sample_run(str(tiny_model), f"file:{short_tasks}", 4, tmp_path / "run", backend="openai", params=PARAMS,
                   backend_options={"base_url": [dead], "retries": 2, "backoff": 0.01})  # fmt: skip
    assert sum(len(v) for v in open_run(tmp_path / "run").keys("samples").values()) == 8
    proc = subprocess.run(
        [sys.executable, "-m", "leash", "sample", "-m", str(tiny_model), "-t", f"file:{short_tasks}", "-n", "4",
         "--run", str(tmp_path / "run"), "--backend", "openai", "--base-url", dead, "--retries", "1",
         "--max-tokens", "12", "--seed", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "leash: error: no server answered after 1 try" in proc.stderr
