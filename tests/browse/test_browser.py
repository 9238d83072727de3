"""The pages as a person uses them, in Debian's headless chromium driven by Playwright: open the
overview, filter to shrinkage, open a problem, see a lost solution, label it by keystroke, reload,
the label is still there; no console error, no script from the model's text runs, and no
request leaves loopback. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from leash.browse.app import build_app
from leash.browse.queries import open_browser
from leash.store import open_run
from tests.browse.runs import LOST, copy_pair

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(pair, tmp_path):
    import uvicorn

    runs = copy_pair(pair, tmp_path)
    port = _free_port()
    app = build_app(open_browser(runs, n_boot=10), allowed_hosts=["127.0.0.1", "localhost"])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", runs
    srv.should_exit = True
    thread.join(timeout=10)


def test_a_person_finds_a_lost_solution_and_labels_it(server):
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        playwright = None
    else:
        playwright = sync_playwright
    if chromium is None and playwright is None:
        pytest.skip(
            "neither chromium nor playwright here: `make test` installs chromium, the dev extra playwright"
        )
    if chromium is None or playwright is None:
        pytest.fail(f"{'chromium' if chromium is None else 'playwright'} is missing: run `make browser` / "
                    "pip install playwright (the dev extra)")  # fmt: skip
    url, runs = server
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors, requests, dialogs = [], [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(url + "/")
        expect(page.locator("#problems tr[data-task]")).to_have_count(12)
        page.select_option("#f-region", "S")
        rows = page.locator("#problems tr[data-task]")
        expect(rows).to_have_count(len(LOST))
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.task)") == LOST
        page.screenshot(path=str(ARTIFACTS / "serve-overview.png"), full_page=True)

        page.click("a.task-link >> text=a6")
        page.wait_for_url("**/problem?task=a6*")
        lost = page.locator("#lost .lost-answer")
        expect(lost).to_have_count(1)
        expect(lost.first).to_contain_text("base found 7 (correct) 6×; tuned 0×")
        card = page.locator("#lost .sample[data-run='0']").first
        expect(card).to_contain_text("answer: 7")
        # The model's HTML is shown as text, never run: the prompt and the <think> fold hold it.
        expect(page.locator("#prompt")).to_contain_text("<script>window.__pwned = 1")
        expect(page.locator("#prompt")).to_contain_text("14/2")  # \frac{14}{2}, readable
        assert page.evaluate("() => window.__pwned === undefined") and dialogs == []
        assert page.locator("#prompt script, #lost script, #samples script, #lost img").count() == 0
        idx = card.get_attribute("data-idx")

        card.focus()
        page.keyboard.press("l")
        labelled = page.locator(f"#lost .sample[data-run='0'][data-idx='{idx}'] .badge").first
        expect(labelled).to_have_text("label: lucky")
        page.screenshot(path=str(ARTIFACTS / "serve-problem.png"), full_page=True)
        page.reload()
        expect(page.locator(f"#samples-0 .sample[data-idx='{idx}'] .badge")).to_have_text("label: lucky")
        browser.close()
    assert errors == []
    assert requests and all(r.startswith(url + "/") for r in requests), [
        r for r in requests if not r.startswith(url)
    ]
    stored = open_run(runs[0]).read_labels().to_pylist()
    assert [(r["task_id"], r["sample_idx"], r["label"]) for r in stored] == [("a6", int(idx), "lucky")]
