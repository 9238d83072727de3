"""Bad input ends in one line (exit 2, nothing written), and `--help` reads well when piped."""

import json
import os
import re
import socket
import subprocess
import sys

import pyarrow as pa
import pytest

from leash.errors import LeashError
from leash.store import create_run
from leash.tasks import read_task_file
from tests.cli.test_cli import assert_one_line_error, leash
from tests.conftest import generations, write_jsonl


def leash_env(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "leash", *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.fixture
def task_file(tmp_path):
    rows = [
        {"task_id": f"t{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i), "verifier": "exact"}
        for i in range(5)
    ]
    return write_jsonl(tmp_path / "tasks.jsonl", rows)


@pytest.fixture
def two_runs(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", generations({"q": ["1*", "2"], "r": ["0", "0"]}))
    write_jsonl(tmp_path / "t.jsonl", generations({"q": ["1*", "1*"], "r": ["0", "5*"]}))
    for name in ("b", "t"):
        assert leash("import", tmp_path / f"{name}.jsonl", "--run", tmp_path / name).returncode == 0
    return tmp_path / "b", tmp_path / "t"


# --- tasks -----------------------------------------------------------------------------------


def test_limit_minus_one_is_refused_and_zero_means_all(task_file):
    assert_one_line_error(leash("tasks", f"file:{task_file}", "--limit", "-1"), "--limit -1")
    everything = leash("tasks", f"file:{task_file}", "--limit", "0")
    assert everything.returncode == 0 and "5 tasks" in everything.stdout
    two = leash("tasks", f"file:{task_file}", "--limit", "2")
    assert two.returncode == 0 and "2 tasks" in two.stdout


def test_tasks_out_an_existing_directory(tmp_path, task_file):
    (tmp_path / "dir").mkdir()
    assert_one_line_error(leash("tasks", f"file:{task_file}", "--out", tmp_path / "dir"), "is a directory")
    assert_one_line_error(
        leash("tasks", f"file:{task_file}", "--out", tmp_path / "no" / "t.jsonl"), "does not exist"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "tasks.jsonl"]  # no .partial left behind
    assert list((tmp_path / "dir").iterdir()) == []


def test_unknown_verifier_is_refused_when_the_tasks_are_read(tmp_path):
    rows = [{"task_id": "a", "prompt": "1+1=", "answer": "2", "verifier": "exact"},
            {"task_id": "b", "prompt": "2+2=", "answer": "4", "verifier": "mathh"}]  # fmt: skip
    path = write_jsonl(tmp_path / "tasks.jsonl", rows)
    proc = leash("tasks", f"file:{path}")
    assert_one_line_error(proc, "unknown verifier 'mathh'")
    assert "task 'b'" in proc.stderr and "math" in proc.stderr  # where, and what to use instead
    with pytest.raises(LeashError, match=r"tasks.jsonl:2: unknown verifier 'mathh'"):
        read_task_file(path)  # the reader `leash import --tasks` uses
    rows[1]["verifier"] = "math"
    assert read_task_file(write_jsonl(tmp_path / "ok.jsonl", rows)).num_rows == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: connecting is refused


@pytest.mark.parametrize("spec", ["hf:org/name", "math500"])
def test_hub_unreachable_is_one_line(tmp_path, spec):
    env = {k: v for k, v in os.environ.items() if not k.endswith("OFFLINE") and "PROXY" not in k.upper()}
    env |= {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HOME": str(tmp_path / "hf")}
    proc = leash_env("tasks", spec, env=env)
    assert_one_line_error(proc, "is unreachable")
    assert "no copy is in the local cache" in proc.stderr and "--out tasks.jsonl" in proc.stderr


def test_hub_probe_against_a_real_listener(monkeypatch):
    from leash.tasks.sources import hub_unreachable

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_unreachable() is None
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert "unreachable" in (hub_unreachable() or "")


# --- compare and report ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-5", "0"])
def test_compare_bootstrap_below_one(tmp_path, two_runs, value):
    proc = leash("compare", *two_runs, "--bootstrap", value, "--out", tmp_path / "cmp")
    assert_one_line_error(proc, f"--bootstrap {value}")
    assert not (tmp_path / "cmp").exists()


def test_compare_json_into_a_missing_folder(tmp_path, two_runs):
    proc = leash("compare", *two_runs, "--json", "nodir/x.json", cwd=tmp_path)
    assert_one_line_error(proc, "--json nodir/x.json")
    assert not (tmp_path / "nodir").exists()
    (tmp_path / "file").write_text("")
    assert_one_line_error(leash("compare", *two_runs, "--out", tmp_path / "file"), "is not a directory")


def test_report_out_an_existing_file(tmp_path, two_runs):
    (tmp_path / "taken").write_text("mine\n")
    assert_one_line_error(leash("report", *two_runs, "--out", tmp_path / "taken"), "is not a directory")
    assert (tmp_path / "taken").read_text() == "mine\n"


@pytest.mark.parametrize(
    "content",
    [
        '{"n": {"base": 2}}',  # keys missing
        '{"leash_compare_',  # cut short
        "[1, 2]",  # not an object
    ],
)
def test_report_from_an_incomplete_compare_json(tmp_path, content):
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "compare.json").write_text(content)
    proc = leash("report", "--from", tmp_path / "cmp", "--out", tmp_path / "rep")
    assert_one_line_error(proc, "compare.json")
    assert not (tmp_path / "rep").exists()


def test_report_from_a_compare_json_missing_an_inner_key(tmp_path, two_runs):
    assert leash("compare", *two_runs, "--out", tmp_path / "cmp").returncode == 0
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    del result["se_gap"]["k_max"]
    (tmp_path / "cmp" / "compare.json").write_text(json.dumps(result))
    proc = leash("report", "--from", tmp_path / "cmp", "--out", tmp_path / "rep")
    assert_one_line_error(proc, "k_max")
    assert not (tmp_path / "rep").exists()


# --- score -----------------------------------------------------------------------------------


def test_score_says_why_its_token_count_is_below_samples(tmp_path):
    from leash.cli.score_cmd import token_count_note

    run = create_run(tmp_path / "run")
    samples = {"task_id": ["a", "a", "b"], "sample_idx": [0, 1, 0], "seed": [0, 1, 0],
               "text": ["xy", "xyz", "q"], "n_tokens": [3, 5, 1], "finish_reason": ["stop", "stop", "length"]}  # fmt: skip
    with run.lock("samples"):
        run.append("samples", pa.table(samples))
    scores = {"task_id": ["a", "a", "b"], "sample_idx": [0, 1, 0], "logprob_sum": [-1.0, -2.0, -0.5],
              "n_tokens": [2, 3, 1], "token_entropy_mean": [0.1, 0.2, 0.3]}  # fmt: skip
    with run.lock("scores/tiny"):
        run.append("scores/tiny", pa.table(scores))
    note = token_count_note(run.path, "tiny") or ""
    assert "6 tokens of text" in note and "counted 9 tokens" in note and "of the 2 that stopped" in note
    assert "docs/score.md" in note
    with run.lock("scores/same"):
        run.append("scores/same", pa.table(dict(scores, n_tokens=[3, 5, 1])))
    assert token_count_note(run.path, "same") is None  # nothing to explain when the counts agree


# --- help ------------------------------------------------------------------------------------

COMMANDS = [[], ["tasks"], ["sample"], ["grade"], ["score"], ["import"], ["compare"], ["report"], ["demo"],
            ["doctor"], ["traces", "import"], ["lab", "pretrain"], ["lab", "rl"],
            ["lab", "distill"], ["lab", "sweep"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "leash")
def test_help_piped_is_whole_and_plain(command):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TERMINAL_WIDTH")}
    proc = leash_env(*command, "--help", env=env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "<bool>" not in text and "…" not in text  # no type on a flag, no option name cut short
    assert max(len(line) for line in text.splitlines()) <= 100
    assert not re.search(r"\w \.$", text, re.M)  # "API key ." : a help text read as markup


def test_help_uses_the_width_and_keeps_bracketed_text():
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TERMINAL_WIDTH")}
    text = leash_env("sample", "--help", env=env).stdout
    assert "openai: API key [env OPENAI_API_KEY]." in text
    assert "--chat-template / --no-chat-template" in text
    assert any(len(line) > 80 for line in text.splitlines())  # not cut at 80 columns when piped
    # The help text of an option stays on its option's line when it fits.
    assert re.search(
        r"--temperature <float> +Sampling temperature \(papers: 0\.6\)\.  \[default: 0\.6\]", text
    )
