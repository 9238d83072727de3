"""The HTTP API of `leash serve` with Starlette's test client: every route, bad ids, labels
written, persisted and honoured by `leash compare`, the token and the security headers."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.stats import false_discovery_control, fisher_exact
from starlette.testclient import TestClient
from typer.testing import CliRunner

from leash.browse.app import CSP, build_app
from leash.browse.queries import add_sample_label, open_browser
from leash.cli import app as cli
from leash.compare import compare_runs
from leash.store import open_run
from tests.browse.runs import BASE, HOSTILE, LOST, TUNED, N, copy_pair


def solved(answers: list) -> int:
    return sum(1 for a in answers if a is not None and a.endswith("*"))


@pytest.fixture(scope="module")
def browser(pair):
    return open_browser(pair, n_boot=10)


@pytest.fixture(scope="module")
def client(browser):
    return TestClient(build_app(browser))


def test_overview_names_the_runs_and_counts_the_regions(client):
    data = client.get("/api/overview").json()
    assert [r["name"] for r in data["runs"]] == ["base", "tuned"]
    assert data["problems"] == len(BASE) and data["k_max"] == N
    support = data["pairs"][0]["support"]
    # Brute force at k = n: P both solve, S only the base, E only the tuned, O neither.
    regions = {"P": 0, "S": 0, "E": 0, "O": 0}
    for task in BASE:
        b, t = solved(BASE[task]) > 0, solved(TUNED[task]) > 0
        regions["P" if b and t else "S" if b else "E" if t else "O"] += 1
    assert {k: support[k] for k in "PSEO"} == regions
    assert data["pairs"][0]["pass_at_1"]["base"] == pytest.approx(
        np.mean([solved(a) / N for a in BASE.values()])
    )
    assert data["datasets"] == ["alpha", "beta"]
    curve = data["curve"]
    assert curve["k"] == [1, 2, 4, 8, 16] and curve["series"][1]["values"][0] == pytest.approx(
        np.mean([solved(a) / N for a in TUNED.values()])
    )


def test_problem_list_filters_sorts_and_pages_on_the_server(client):
    shrink = client.get("/api/problems", params={"region": "S"}).json()
    assert [r["task_id"] for r in shrink["rows"]] == LOST and shrink["total"] == 4
    beta = client.get("/api/problems", params={"dataset": "beta"}).json()
    assert {r["task_id"] for r in beta["rows"]} == {t for t in BASE if t.startswith("b")}
    text = client.get("/api/problems", params={"text": "A7"}).json()
    assert [r["task_id"] for r in text["rows"]] == ["a7"]
    by_base = client.get("/api/problems", params={"sort": "rate_0", "order": "desc"}).json()
    rates = [r["c"][0] / r["n"][0] for r in by_base["rows"]]
    assert rates == sorted(rates, reverse=True) and by_base["rows"][0]["task_id"] == "a4"
    assert by_base["rows"][0]["c"] == [solved(BASE["a4"]), solved(TUNED["a4"])]
    pages = [client.get("/api/problems", params={"per_page": 5, "page": p}).json() for p in (1, 2, 3)]
    seen = [r["task_id"] for page in pages for r in page["rows"]]
    assert seen == sorted(BASE) and pages[0]["total"] == len(BASE)


def test_significance_filter_matches_scipy(client):
    tasks = sorted(BASE)
    p = [fisher_exact([[solved(BASE[t]), N - solved(BASE[t])], [solved(TUNED[t]), N - solved(TUNED[t])]])[1]
         for t in tasks]  # fmt: skip
    q = false_discovery_control(p, method="bh")
    rows = client.get("/api/problems", params={"significance": "shrinkage"}).json()["rows"]
    expect = [t for t, qv in zip(tasks, q, strict=True) if qv < 0.05 and solved(BASE[t]) > solved(TUNED[t])]
    assert [r["task_id"] for r in rows] == expect and "a4" in expect
    for r in rows:
        assert r["q"] == pytest.approx(q[tasks.index(r["task_id"])])
    up = client.get("/api/problems", params={"significance": "expansion"}).json()["rows"]
    assert "b0" in [r["task_id"] for r in up]


def test_regions_follow_the_chosen_k(client):
    # At k = 1 a problem solved 5 times in 16 by the base and never by the tuned model is most
    # likely out of support (1 - 5/16 > 5/16); a4 (16/16 vs 0/16) stays shrinkage.
    rows = {r["task_id"]: r["region"] for r in client.get("/api/problems", params={"k": 1}).json()["rows"]}
    assert rows["a4"] == "S" and rows["a5"] == "O"


def test_problem_page_lists_answers_and_lost_solutions(client):
    data = client.get("/api/problem", params={"task": "a6"}).json()
    assert data["task"]["dataset"] == "alpha" and HOSTILE in data["task"]["prompt"]
    base, tuned = data["runs"]
    assert [(a["answer"], a["count"], a["correct"]) for a in base["answers"]] == [
        ("7", 6, True),
        ("3", 10, False),
    ]
    assert [(a["answer"], a["count"]) for a in tuned["answers"]] == [("3", 10), (None, 6)]
    assert [(lost["answer"], lost["count"], lost["count_vs"]) for lost in data["lost"]] == [("7", 6, 0)]
    example = data["lost"][0]["examples"][0]
    assert example["answer"] == "7" and example["verdict"] is True and "\\boxed{7}" in example["text"]
    assert [t["answer"] for t in data["vs_top"]] == ["3", None]
    assert data["vs_top"][0]["examples"][0]["text"].endswith("\\boxed{3}.")
    kept = client.get("/api/problem", params={"task": "a0"}).json()
    assert kept["lost"] == []


def test_samples_page_by_answer(client):
    page = client.get("/api/samples", params={"task": "a6", "run": 0, "answer": "3", "limit": 4}).json()
    assert page["total"] == 10 and len(page["samples"]) == 4
    assert all(s["answer"] == "3" and s["verdict"] is False for s in page["samples"])
    none = client.get("/api/samples", params={"task": "a6", "run": 1, "no_answer": 1}).json()
    assert none["total"] == 6 and all(s["answer"] is None for s in none["samples"])
    rest = client.get("/api/samples", params={"task": "a6", "run": 0, "offset": 14}).json()
    assert [s["sample_idx"] for s in rest["samples"]] == [14, 15]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/problem", {"task": "nope"}, 404, "no task 'nope'"),
        ("/api/problem", {}, 400, "give the task"),
        ("/api/samples", {"task": "a0", "run": 7}, 404, "no run 7"),
        ("/api/samples", {"task": "zz", "run": 0}, 404, "no task 'zz'"),
        ("/api/problems", {"region": "X"}, 400, "region='X'"),
        ("/api/problems", {"k": 99}, 400, "k=99: must be between 1 and 16"),
        ("/api/problems", {"sort": "bogus"}, 400, "sort='bogus'"),
        ("/api/problems", {"page": "two"}, 400, "page='two': give an integer"),
        ("/nothing", {}, 404, "no page /nothing"),
    ],
)
def test_bad_requests_say_what_is_wrong(client, path, params, status, message):
    response = client.get(path, params=params)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_pages_are_static_and_every_response_forbids_foreign_script(client):
    for path in ("/", "/problem?task=a0", "/api/overview", "/static/common.js", "/static/style.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
    for page in ("/", "/problem"):
        html = client.get(page).text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all('src="/static/' in attrs and body == "" for attrs, body in scripts)
        assert "http://" not in html and "https://" not in html  # nothing from another origin
    assert "script-src 'self'" in CSP and "default-src 'none'" in CSP and "unsafe-inline" not in CSP
    for name in ("common.js", "overview.js", "problem.js"):
        assert ".innerHTML" not in client.get(f"/static/{name}").text, name


def test_labels_are_written_at_once_and_honoured_by_compare(pair, tmp_path):
    base, tuned = copy_pair(pair, tmp_path)
    client = TestClient(build_app(open_browser([base, tuned], n_boot=10)))
    before = compare_runs(base, tuned, n_boot=10)
    # a5: the base's correct samples are 0-4 ("7"); label two lucky, and sample 9 ("3", wrong) bad-grade.
    for idx, label in ((0, "lucky"), (1, "lucky"), (9, "bad-grade")):
        response = client.post(
            "/api/label", json={"run": 0, "task_id": "a5", "sample_idx": idx, "label": label}
        )
        assert response.status_code == 200 and response.json()["sample"]["label"] == label
    note = client.post(
        "/api/label",
        json={"run": 0, "task_id": "a5", "sample_idx": 9, "label": "note", "note": "x=3 is right"},
    )
    assert note.json()["sample"]["note"] == "x=3 is right" and note.json()["sample"]["label"] == "bad-grade"
    stored = open_run(base).read_labels()
    assert stored.num_rows == 4 and stored["graded"].to_pylist() == [True, True, False, False]
    # A new server (a reload) sees them.
    again = TestClient(build_app(open_browser([base, tuned], n_boot=10)))
    samples = again.get("/api/samples", params={"task": "a5", "run": 0, "limit": 10}).json()["samples"]
    labels = {s["sample_idx"]: (s["label"], s["verdict"]) for s in samples}
    assert labels[0] == ("lucky", False) and labels[9] == ("bad-grade", True) and labels[2] == (None, True)
    # compare: a5's base count goes 5 -> 5 - 2 + 1 = 4.
    after = compare_runs(base, tuned, n_boot=10)
    c = {p["task_id"]: p["c_base"] for p in after["problems"]}
    c0 = {p["task_id"]: p["c_base"] for p in before["problems"]}
    assert c["a5"] == solved(BASE["a5"]) - 2 + 1 and all(c[t] == c0[t] for t in c if t != "a5")
    effect = after["runs"]["base"]["labels"]
    assert effect == {"applied": 3, "ignored": 0, "by_label": {"bad-grade": 1, "lucky": 2},
                      "to_incorrect": 2, "to_correct": 1, "problems_changed": 1}  # fmt: skip
    ignored = compare_runs(base, tuned, n_boot=10, labels=False)
    assert {p["task_id"]: p["c_base"] for p in ignored["problems"]} == c0
    # The overview of the running server reflects the labels on its next request.
    line = client.get("/api/overview").json()["pairs"][0]["labels"]["base"]
    assert line.startswith("3 labels applied (1 bad-grade, 2 lucky): 2 verdicts correct → incorrect")
    # A later `ok` supersedes `lucky`.
    client.post("/api/label", json={"run": 0, "task_id": "a5", "sample_idx": 0, "label": "ok"})
    assert {p["task_id"]: p["c_base"] for p in compare_runs(base, tuned, n_boot=10)["problems"]}["a5"] == 5
    result = CliRunner().invoke(
        cli, ["compare", str(base), str(tuned), "--labels", "--bootstrap", "10", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.output
    assert (
        "labels (base): 3 labels applied (1 bad-grade, 1 lucky, 1 ok): 1 verdict correct → incorrect, 1 verdict incorrect → correct"
        in result.output
    )
    assert "- labels (base): 3 labels applied" in (tmp_path / "c" / "compare.md").read_text()


def test_two_tabs_labelling_at_once_keep_every_label(pair, tmp_path):
    base, tuned = copy_pair(pair, tmp_path)
    tabs = [open_browser([base, tuned], n_boot=1) for _ in range(2)]  # two servers, one run
    jobs = [(tabs[i % 2], {"run": 1, "task_id": "b2", "sample_idx": i, "label": "lucky"}) for i in range(N)]
    start = threading.Barrier(4)

    def label(job):
        start.wait() if job[1]["sample_idx"] < 4 else None
        return add_sample_label(*job)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(label, jobs))
    stored = open_run(tuned).read_labels()
    assert sorted(stored["sample_idx"].to_pylist()) == list(range(N))


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"run": 0, "task_id": "a0", "sample_idx": 99, "label": "ok"}, 404, "no sample 99 of task 'a0'"),
        ({"run": 3, "task_id": "a0", "sample_idx": 0, "label": "ok"}, 404, "no run 3"),
        ({"run": 0, "task_id": "q", "sample_idx": 0, "label": "ok"}, 404, "no task 'q'"),
        (
            {"run": 0, "task_id": "a0", "sample_idx": 0, "label": "great"},
            400,
            "use one of ok, lucky, bad-grade, note",
        ),
        ({"run": 0, "task_id": "a0", "sample_idx": 0, "label": "note"}, 400, "needs the note's text"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_written(client, pair, body, status, message):
    response = client.post("/api/label", json=body)
    assert response.status_code == status and message in response.json()["error"]
    assert not open_run(pair[0]).labels_path.exists()


def test_label_posts_must_be_json_from_this_origin(client, pair):
    form = client.post("/api/label", data={"run": "0"})
    assert form.status_code == 415
    foreign = client.post("/api/label", json={}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert not open_run(pair[0]).labels_path.exists()


def test_token_is_checked_on_every_request(browser):
    client = TestClient(build_app(browser, token="s3cret"))
    assert client.get("/api/overview").status_code == 401
    assert client.get("/static/common.js").status_code == 401
    assert "needs its token" in client.get("/").json()["error"]
    assert client.get("/api/overview", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/overview", headers={"Authorization": "Bearer wrong"}).status_code == 401
    first = client.get("/?token=s3cret")  # the printed URL: sets the cookie the page's requests carry
    assert first.status_code == 200 and "leash_token" in first.headers["set-cookie"]
    assert client.get("/api/overview").status_code == 200


def test_loopback_server_refuses_other_host_names(browser):
    app = build_app(browser, allowed_hosts=["127.0.0.1", "localhost"])
    client = TestClient(app, base_url="http://127.0.0.1:7860")
    assert client.get("/api/overview").status_code == 200
    assert client.get("/api/overview", headers={"Host": "attacker.example"}).status_code == 400


def test_cli_refuses_an_open_host_without_a_token(pair):
    result = CliRunner().invoke(cli, ["serve", str(pair[0]), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--host 0.0.0.0 lets other machines in: pass --token" in result.output
    missing = CliRunner().invoke(cli, ["serve", "/no/such/run"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
