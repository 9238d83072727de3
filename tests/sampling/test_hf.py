"""`leash sample` with the hf backend on a tiny random Llama: rows, resume, growth, refusals."""

import json
import signal
import subprocess
import sys
import time

import pytest

from leash.errors import LeashError
from leash.sampling import SamplingParams, sample_run
from leash.store import open_run

PARAMS = SamplingParams(max_tokens=24, stop=("\n\n",), seed=3)


def texts(run_dir):
    rows = open_run(run_dir).read("samples").to_pylist()
    return {(r["task_id"], r["sample_idx"]): r["text"] for r in rows}


def test_sample_end_to_end(tiny_model, short_tasks, tmp_path):
    summary = sample_run(
        str(tiny_model), f"file:{short_tasks}", 6, tmp_path / "run", params=PARAMS, batch_size=4
    )
    assert (summary.tasks, summary.samples_added, summary.samples_total) == (4, 24, 24)
    run = open_run(tmp_path / "run")
    rows = run.read("samples").to_pylist()
    assert sorted((r["task_id"], r["sample_idx"]) for r in rows) == [
        (f"t{i}", j) for i in range(4) for j in range(6)
    ]
    for r in rows:
        assert r["finish_reason"] in ("stop", "length")
        assert 1 <= r["n_tokens"] <= 24
        assert "\n\n" not in r["text"]
        assert r["finish_reason"] == "stop" or r["n_tokens"] == 24
        assert r["seed"] is not None
    tasks = {t["task_id"]: t for t in run.read_tasks().to_pylist()}
    assert tasks["t1"]["prompt"] == "1+1=\n" and json.loads(tasks["t1"]["meta"])["question"] == "1+1="
    meta = run.meta()["sampling"]
    assert (
        meta["temperature"] == 0.6
        and meta["top_p"] == 0.95
        and meta["n"] == 6
        and meta["chat_template"] is False
    )


def test_texts_do_not_depend_on_batching_and_growth_extends(tiny_model, short_tasks, tmp_path):
    sample_run(str(tiny_model), f"file:{short_tasks}", 8, tmp_path / "a", params=PARAMS, batch_size=8)
    sample_run(str(tiny_model), f"file:{short_tasks}", 8, tmp_path / "b", params=PARAMS, batch_size=3)
    sample_run(str(tiny_model), f"file:{short_tasks}", 5, tmp_path / "c", params=PARAMS, batch_size=8)
    grown = sample_run(str(tiny_model), f"file:{short_tasks}", 8, tmp_path / "c", params=PARAMS, batch_size=8)
    assert grown.samples_added == 12
    assert texts(tmp_path / "a") == texts(tmp_path / "b") == texts(tmp_path / "c")
    again = sample_run(str(tiny_model), f"file:{short_tasks}", 8, tmp_path / "c", params=PARAMS, batch_size=8)
    assert again.samples_added == 0


def test_changed_distribution_is_refused_unless_new_run(tiny_model, short_tasks, tmp_path):
    sample_run(str(tiny_model), f"file:{short_tasks}", 2, tmp_path / "run", params=PARAMS)
    hotter = SamplingParams(temperature=1.0, max_tokens=24, stop=("\n\n",), seed=3)
    with pytest.raises(LeashError, match=r"sampled with other settings \(temperature: 0.6 -> 1.0\)"):
        sample_run(str(tiny_model), f"file:{short_tasks}", 2, tmp_path / "run", params=hotter)
    summary = sample_run(
        str(tiny_model), f"file:{short_tasks}", 2, tmp_path / "run", params=hotter, new_run=True
    )
    assert summary.samples_added == 8 and "moved the previous run" in summary.notes[0]
    assert len(list(tmp_path.glob("run.old-*"))) == 1
    # A new seed is not a new distribution: the run grows.
    reseeded = SamplingParams(temperature=1.0, max_tokens=24, stop=("\n\n",), seed=4)
    assert (
        sample_run(str(tiny_model), f"file:{short_tasks}", 3, tmp_path / "run", params=reseeded).samples_added
        == 4
    )


def test_long_prompts_are_skipped_and_counted(tiny_model, tmp_path):
    rows = [
        {"task_id": "short", "prompt": "1+1="},
        {"task_id": "long", "prompt": "x" * 2100},
    ]  # context: 2048
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = sample_run(str(tiny_model), f"file:{tmp_path / 't.jsonl'}", 2, tmp_path / "run", params=PARAMS)
    assert summary.skipped == ["long"] and summary.samples_total == 2
    assert open_run(tmp_path / "run").meta()["sampling"]["skipped_long_prompts"] == ["long"]


def test_chat_template_is_rendered_into_the_stored_prompt(tiny_model, short_tasks, tmp_path):
    import shutil

    chat_model = tmp_path / "chat"
    shutil.copytree(tiny_model, chat_model)
    config = json.loads((chat_model / "tokenizer_config.json").read_text())
    config["chat_template"] = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>"
    )
    (chat_model / "tokenizer_config.json").write_text(json.dumps(config))
    sample_run(str(chat_model), f"file:{short_tasks}", 1, tmp_path / "run", params=PARAMS)
    prompts = {t["task_id"]: t["prompt"] for t in open_run(tmp_path / "run").read_tasks().to_pylist()}
    assert prompts["t2"] == "<user>2+2=\n<assistant>"
    with pytest.raises(LeashError, match="no chat template"):
        sample_run(
            str(tiny_model), f"file:{short_tasks}", 1, tmp_path / "r2", params=PARAMS, chat_template=True
        )


def test_model_folder_without_tokenizer(tiny_model, short_tasks, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model / name, bare / name)
    with pytest.raises(LeashError, match="has no tokenizer"):
        sample_run(str(bare), f"file:{short_tasks}", 1, tmp_path / "run")
    with pytest.raises(LeashError, match="unknown backend 'tgi'; choose one of: hf, openai, ray, vllm"):
        sample_run(str(tiny_model), f"file:{short_tasks}", 1, tmp_path / "run", backend="tgi")
    assert not (tmp_path / "run").exists()


def test_kill_mid_run_then_resume_equals_uninterrupted(tiny_model, tmp_path):
    rows = [{"task_id": f"k{i}", "prompt": f"{i}*{i}="} for i in range(6)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = [sys.executable, "-m", "leash", "sample", "-m", str(tiny_model), "-t", f"file:{tmp_path / 't.jsonl'}",
            "-n", "48", "--max-tokens", "48", "--batch-size", "8", "--flush-every", "8", "--seed", "5"]  # fmt: skip
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--run", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill once a few shards are on disk, well before the end
        shards = list((killed / "samples").glob("*.parquet")) if (killed / "samples").exists() else []
        if len(shards) >= 3 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = sum(1 for _ in open_run(killed).read("samples").to_pylist())
    assert 0 < partial < 6 * 48
    assert subprocess.run([*args, "--run", str(killed)], capture_output=True).returncode == 0
    whole = tmp_path / "whole"
    assert subprocess.run([*args, "--run", str(whole)], capture_output=True).returncode == 0
    resumed = open_run(killed).read("samples").to_pylist()
    pairs = [(r["task_id"], r["sample_idx"]) for r in resumed]
    assert len(pairs) == len(set(pairs)) == 6 * 48
    assert texts(killed) == texts(whole)


def test_completion_lengths_and_finish_reasons(tiny_model):
    from leash.lab.tiny import char_tokenizer
    from leash.sampling.hf import HFBackend

    backend = object.__new__(HFBackend)  # only the post-processing is under test
    backend.tokenizer = char_tokenizer()
    backend.eos_ids = {backend.tokenizer.eos_token_id}
    backend.params = SamplingParams(max_tokens=8, stop=("##",))
    tok = backend.tokenizer
    pad, eos = tok.pad_token_id, tok.eos_token_id
    a, b, h = (tok.convert_tokens_to_ids(c) for c in "ab#")
    # A pad sampled mid-row is not an end; the row runs to its last token.
    assert backend._completion([a, pad, b, b, a, a, b, a], 8) == backend._completion(
        [a, pad, b, b, a, a, b, a], 8
    )
    got = backend._completion([a, pad, b, b, a, a, b, a], 8)
    assert (got.text, got.n_tokens, got.finish_reason) == ("abbaaba", 8, "length")
    got = backend._completion([a, b, eos, pad, pad, pad, pad, pad], 8)
    assert (got.text, got.n_tokens, got.finish_reason) == ("ab", 3, "stop")
    got = backend._completion([a, h, h, pad, pad, pad, pad, pad], 8)  # a stop string ended the row
    assert (got.text, got.n_tokens, got.finish_reason) == ("a", 3, "stop")
