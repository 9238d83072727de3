"""Scoring: log-probs against a token-by-token loop, entropy against brute force, batching."""

import json
import math
import subprocess
import sys

import pytest
import torch

from leash.compare import compare_runs
from leash.errors import LeashError
from leash.grading import grade_run
from leash.sampling import SamplingParams, sample_run
from leash.sampling.hf import load_model_and_tokenizer
from leash.scoring import model_slug, score_run, score_texts
from leash.store import open_run

PAIRS = [
    ("1+1=", "2, so the answer is 2"),
    ("What is 3*3?\n", "9"),
    ("x", "a longer completion with many chars"),
    ("p", ""),
]


@pytest.fixture(scope="module")
def model_and_tok(tiny_model):
    return load_model_and_tokenizer(str(tiny_model), "cpu")


def manual(model, tok, prompt, completion):
    """Token by token: one forward pass per completion token, no batching, no padding."""
    p = tok(prompt, add_special_tokens=False).input_ids
    c = tok(completion, add_special_tokens=False).input_ids
    total, entropies = 0.0, []
    for j in range(len(c)):
        ids = torch.tensor([p + c[:j]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1].double()
        probs = [math.exp(x) for x in logits.tolist()]
        z = sum(probs)
        probs = [q / z for q in probs]
        total += math.log(probs[c[j]])
        entropies.append(-sum(q * math.log(q) for q in probs if q > 0))
    return total, len(c), (sum(entropies) / len(entropies) if entropies else math.nan)


def test_logprobs_and_entropy_match_a_manual_loop(model_and_tok):
    model, tok = model_and_tok
    got = score_texts(model, tok, PAIRS)
    for (prompt, completion), row in zip(PAIRS, got, strict=True):
        lp, n, h = manual(model, tok, prompt, completion)
        assert row["n_tokens"] == n
        if n == 0:
            assert row["logprob_sum"] == 0.0 and math.isnan(row["token_entropy_mean"])
            continue
        assert row["logprob_sum"] == pytest.approx(lp, abs=1e-4)
        assert row["token_entropy_mean"] == pytest.approx(h, abs=1e-4)


def test_batch_one_and_batch_sixteen_agree(model_and_tok):
    model, tok = model_and_tok
    pairs = [(f"{i}+{i}=", "x" * (i * 3 % 17) + str(2 * i)) for i in range(16)]
    together = score_texts(model, tok, pairs)
    alone = [score_texts(model, tok, [pair])[0] for pair in pairs]
    for a, b in zip(together, alone, strict=True):
        assert a["n_tokens"] == b["n_tokens"]
        assert a["logprob_sum"] == pytest.approx(b["logprob_sum"], abs=1e-4)
        assert a["token_entropy_mean"] == pytest.approx(b["token_entropy_mean"], abs=1e-4)


def test_temperature_and_truncation(model_and_tok):
    model, tok = model_and_tok
    (t1,) = score_texts(model, tok, [("a", "bcd")])
    (t2,) = score_texts(model, tok, [("a", "bcd")], temperature=0.5)
    assert t1["logprob_sum"] != pytest.approx(t2["logprob_sum"])
    (cut,) = score_texts(model, tok, [("abc", "defghij")], context=6)
    assert cut["truncated"] and cut["n_tokens"] == 3


def test_a_model_scoring_its_own_samples_gives_the_samplers_logprobs(tiny_model, short_tasks, tmp_path):
    sample_run(
        str(tiny_model), f"file:{short_tasks}", 16, tmp_path / "run", params=SamplingParams(max_tokens=24)
    )
    summary = score_run(tmp_path / "run", str(tiny_model), batch_size=5)
    assert summary.scored == 64 and summary.scorer == model_slug(str(tiny_model))
    con = open_run(tmp_path / "run").connect()
    rows = con.sql(
        "select s.logprob, c.logprob_sum, c.n_tokens, s.n_tokens, s.finish_reason, s.text from samples s "
        "join scores c using (task_id, sample_idx)"
    ).fetchall()
    # Where re-tokenising the text gives back the generated tokens (no special token was
    # sampled mid-text), the scorer must see exactly the log-probs the sampler drew with.
    same = [r for r in rows if r[2] == r[3] - (r[4] == "stop" and r[3] > r[2])]
    assert len(same) >= len(rows) // 2
    for sampler_lp, scorer_lp, *_ in same:
        assert scorer_lp == pytest.approx(sampler_lp, abs=1e-4)
    assert score_run(tmp_path / "run", str(tiny_model)).scored == 0  # resumable


def test_perplexity_and_entropy_in_compare(tiny_model, short_tasks, tmp_path):
    for name, seed in (("base", 1), ("tuned", 2)):
        sample_run(
            str(tiny_model),
            f"file:{short_tasks}",
            8,
            tmp_path / name,
            params=SamplingParams(max_tokens=16, seed=seed),
        )
        grade_run(tmp_path / name, "exact")
        score_run(tmp_path / name, str(tiny_model))
    result = compare_runs(tmp_path / "base", tmp_path / "tuned", n_boot=10)
    slug = model_slug(str(tiny_model))
    block = result["perplexity"]["base"][slug]
    rows = (
        open_run(tmp_path / "base")
        .connect()
        .sql("select avg(exp(-logprob_sum / n_tokens)) from scores where n_tokens > 0")
        .fetchall()[0][0]
    )
    assert block["all"] == pytest.approx(rows) and block["sequences"] > 0
    assert "per sequence" in result["perplexity"]["definition"]
    table = result["entropy"]["tuned"]
    assert table["scorer"] == slug and table["all"]["token_entropy"] > 0
    assert set(table) == {"scorer", "all", "add"}


def test_bad_input(tiny_model, tmp_path):
    with pytest.raises(LeashError, match="does not exist"):
        score_run(tmp_path / "nope", str(tiny_model))
    (tmp_path / "g.jsonl").write_text(json.dumps({"task_id": "a", "completion": ""}) + "\n")
    from leash.importers import import_generations

    import_generations(tmp_path / "g.jsonl", tmp_path / "r")
    with pytest.raises(LeashError, match=r"model folder .* does not exist"):
        score_run(tmp_path / "r", str(tmp_path / "no-model"))
    proc = subprocess.run([sys.executable, "-m", "leash", "score", str(tmp_path / "r"), "-m", str(tiny_model)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 empty completions (0 tokens)" in proc.stderr
