"""leash report: files, several tuned runs, missing pieces, and a real browser's view of the page."""

import json
import shutil
from pathlib import Path

import pytest

from leash.errors import LeashError
from leash.importers import import_generations
from leash.report import build_report
from tests.conftest import generations, write_jsonl

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

BASE = {
    f"p{i}": ["1*", "2", "3", "1*", "4", "5", "6", "7"] if i % 3 else ["9"] * 7 + ["1*"] for i in range(9)
}
GRPO = {f"p{i}": ["1*"] * 6 + ["2", "2"] if i % 3 else ["9"] * 8 for i in range(9)}
PPO = {f"p{i}": ["1*"] * 4 + ["2"] * 4 for i in range(9)}


def runs(tmp_path, **named):
    out = []
    for name, answers in named.items():
        dataset = {k: "even" if int(k[1:]) % 2 == 0 else "odd" for k in answers}
        rows = [dict(r, dataset=dataset[r["task_id"]]) for r in generations(answers)]
        write_jsonl(tmp_path / f"{name}.jsonl", rows)
        import_generations(tmp_path / f"{name}.jsonl", tmp_path / name, model=name)
        out.append(tmp_path / name)
    return out


def test_report_files_and_several_tuned_runs(tmp_path):
    paths = runs(tmp_path, base=BASE, grpo=GRPO, ppo=PPO)
    html_path = build_report(paths, tmp_path / "out")
    out = tmp_path / "out"
    for name in (
        "report.html",
        "report.md",
        "compare-1.json",
        "compare-2.json",
        "pass_at_k.png",
        "pass_at_k.svg",
        "pass_at_k_0.png",
        "regions.png",
        "regions_by_k.svg",
    ):
        assert (out / name).exists(), name
    text = html_path.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text  # offline, no CDN
    assert text.count("<img") >= 5 and "grpo" in text and "ppo" in text
    assert json.loads((out / "compare-1.json").read_text())["runs"]["tuned"]["model"] == "grpo"
    md = (out / "report.md").read_text()
    assert "# grpo vs base" in md and "# ppo vs base" in md


def test_missing_pieces_are_said_not_hidden(tmp_path):
    one = {f"q{i}": ["1*"] if i % 2 else ["0"] for i in range(4)}
    paths = runs(tmp_path, base=one, tuned={f"q{i}": ["1*"] for i in range(4)})
    text = build_report(paths, tmp_path / "out").read_text()
    assert "One sample per task: no pass@k curve" in text
    assert "Perplexity needs scores" in text
    write_jsonl(tmp_path / "raw.jsonl", [{"task_id": "q0", "completion": "x"}])
    import_generations(tmp_path / "raw.jsonl", tmp_path / "raw")
    text = build_report([paths[0], tmp_path / "raw"], tmp_path / "out2").read_text()
    assert "has no grades" in text and "Nothing to compare yet" in text
    with pytest.raises(LeashError, match="give a base run and at least one tuned run"):
        build_report([paths[0]], tmp_path / "out3")


def test_the_page_in_a_real_browser(tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "no chromium here: `make test` installs Debian's chromium; install it to check the report"
        )
    from playwright.sync_api import sync_playwright

    paths = runs(tmp_path, base=BASE, grpo=GRPO, ppo=PPO)
    html_path = build_report(paths, tmp_path / "out")
    results = [json.loads((tmp_path / "out" / f"compare-{i}.json").read_text()) for i in (1, 2)]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html_path.as_uri())
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
        cells = dict(
            page.eval_on_selector_all("td[data-key]", "els => els.map(e => [e.dataset.key, e.textContent])")
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert images and all(complete and width > 0 for _, complete, width in images), images
    # The numbers a reader sees are compare.json's, to the printed digit.
    for i, result in enumerate(results):
        se = result["se_gap"]
        assert cells[f"{i}.se_gap.pass_at_1.tuned"] == f"{se['pass_at_1']['tuned']:.4f}"
        assert cells[f"{i}.se_gap.pass_at_k_max.tuned"] == f"{se['pass_at_k_max']['tuned']:.4f}"
        assert cells[f"{i}.support.problem.NSCR"] == f"{result['support']['problem']['NSCR']:.4f}"
        assert cells[f"{i}.support.problem.SRR"] == f"{result['support']['problem']['SRR']:.4f}"
    assert cells["0.se_gap.pass_at_1.base"] == f"{results[0]['se_gap']['pass_at_1']['base']:.4f}"
