"""`leash report BASE TUNED [MORE ...] --out DIR`: the papers' figures in one offline page.

Writes report.html (self-contained: CSS and every figure inline, no script, no
CDN), report.md, each figure as PNG and SVG, and the compare.json it used (one per
tuned run). `build_report` compares the base with each tuned run (or reads an
existing compare directory) and says, on the page, what it could not show.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from pathlib import Path
from typing import Any

from leash.compare import compare_runs
from leash.compare.markdown import (
    base_label,
    fmt,
    fmt_count,
    labels_line,
    render_markdown,
    short_name,
    shrinkage_problems,
)
from leash.errors import LeashError
from leash.report import plots
from leash.store import open_run

__all__ = ["build_report"]


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _row(*cells: str) -> str:
    return "<tr>" + "".join(cells) + "</tr>"


def _td(value: Any, digits: int = 4) -> str:
    return f"<td>{_esc(fmt(value, digits))}</td>"


def _th(value: Any) -> str:
    return f"<th>{_esc(value)}</th>"


def _table(head: list[str], rows: list[str]) -> str:
    return "<table>" + _row(*(_th(h) for h in head)) + "".join(rows) + "</table>"


def _cell(value: Any, key: str, digits: int = 4) -> str:
    return f'<td data-key="{_esc(key)}">{_esc(fmt(value, digits))}</td>'


def _count_cell(value: Any, key: str) -> str:
    return f'<td data-key="{_esc(key)}">{_esc(fmt_count(value))}</td>'


_HEADLINE_PER_SIDE = [  # (label, path into a compare result, key)
    ("pass@1", ("se_gap", "pass_at_1"), "se_gap.pass_at_1"),
    ("pass@k_max", ("se_gap", "pass_at_k_max"), "se_gap.pass_at_k_max"),
    ("SE gap", ("se_gap",), "se_gap"),
    ("answer entropy (nats)", ("answer_entropy",), "answer_entropy"),
]
_HEADLINE_PER_PAIR = [
    ("ΔSE (base pass@k_max − tuned pass@1)", ("se_gap", "delta_se"), 4),
    ("crossover k (base overtakes)", ("pass_at_k", "crossover_k"), 0),
    ("NSCR (problems)", ("support", "problem", "NSCR"), 4),
]


def _get(result: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        result = result[key]
    return result


def _headline(results: list[tuple[str, dict[str, Any]]]) -> str:
    base = results[0][1]
    k_max = base["se_gap"]["k_max"]
    body = []
    for label, path, key in _HEADLINE_PER_SIDE:
        cells = [_cell(_get(base, path)["base"], f"0.{key}.base")]
        cells += [_cell(_get(r, path)["tuned"], f"{i}.{key}.tuned") for i, (_, r) in enumerate(results)]
        body.append(_row(_th(label.replace("k_max", str(k_max))), *cells))
    for label, path, digits in _HEADLINE_PER_PAIR:
        key = ".".join(path)
        cells = [_cell(_get(r, path), f"{i}.{key}", digits) for i, (_, r) in enumerate(results)]
        body.append(_row(_th(label), "<td>–</td>", *cells))
    return _table(["", base_label(base), *(n for n, _ in results)], body)


def _base_name(result: dict[str, Any]) -> str:
    return short_name(result["runs"]["base"], "base")


def _support_table(name: str, result: dict[str, Any], index: int) -> str:
    rows = []
    for grain in ("problem", "answer"):
        s = result["support"].get(grain)
        if s is None:
            rows.append(_row(_th(grain), "<td colspan='10'>no canonical answers recorded</td>"))
            continue
        cells = [
            _count_cell(s[m], f"{index}.support.{grain}.{m}")
            if m in "PSEO"
            else _cell(s[m], f"{index}.support.{grain}.{m}")
            for m in _METRICS
        ]
        rows.append(_row(_th(grain), _td(s["k"]), f"<td>{s['epsilon']:.3g}</td>", *cells))
    return f"<h3>{_esc(name)} vs {_esc(base_label(result))}</h3>" + _table(
        ["grain", "k", "ε", *_METRICS], rows
    )


_METRICS = ("P", "S", "E", "O", "SRR", "NDR", "SDS", "NSCR")
_NO_SCORES = "<p class='missing'>{what} needs scores: run <code>leash score RUN --model MODEL</code>.</p>"


def _entropy_tables(results: list[tuple[str, dict[str, Any]]]) -> str:
    base = results[0][1]
    blocks = [(base_label(base), base["entropy"]["base"])]
    blocks += [(n, r["entropy"]["tuned"]) for n, r in results]
    datasets = [k for k in blocks[0][1] if k != "scorer"]
    rows = [
        _row(_td(name), _td(d), *(_td(table.get(d, {}).get(m)) for m in _ENTROPY))
        for name, table in blocks
        for d in datasets
    ]
    note = _NO_SCORES.format(what="Token entropy") if all(t.get("scorer") is None for _, t in blocks) else ""
    return _table(["model", "dataset", "avg@n", "token entropy", "answer entropy"], rows) + note


_ENTROPY = ("avg_at_n", "token_entropy", "answer_entropy")


def _perplexity_tables(results: list[tuple[str, dict[str, Any]]]) -> str:
    base = results[0][1]
    sides = [(base_label(base), base["perplexity"].get("base", {}))]
    sides += [(n, r["perplexity"].get("tuned", {})) for n, r in results]
    rows = []
    for name, by_scorer in sides:
        for scorer, b in by_scorer.items():
            values = [b["all"], b["correct"], b["incorrect"], *(b["by_region"][r] for r in "PSEO")]
            rows.append(_row(_td(name), _td(scorer), *(_td(v, 3) for v in values)))
    if not rows:
        return _NO_SCORES.format(what="Perplexity")
    head = ["samples of", "scored by", "all", "correct", "incorrect", "P", "S", "E", "O"]
    return f"<p>{_esc(base['perplexity']['definition'])}.</p>" + _table(head, rows)


def _samples(run_path: str, task_ids: list[str], per_task: int = 2) -> dict[str, list[str]]:
    if not task_ids:
        return {}
    try:
        run = open_run(run_path)
        con = run.connect()
    except LeashError:
        return {}
    import pyarrow as pa

    con.register("wanted", pa.table({"task_id": task_ids}))
    rows = con.sql(
        f"select task_id, text from (select task_id, text, row_number() over (partition by task_id "
        f"order by sample_idx) as r from samples semi join wanted using (task_id)) where r <= {per_task}"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for task_id, text in rows:
        out.setdefault(task_id, []).append(text)
    return out


def _significant(name: str, result: dict[str, Any], index: int) -> str:
    sig = result["significance"]
    by_id = {p["task_id"]: p for p in result["problems"]}
    ids = [("fewer correct", t) for t in sig["shrinkage"]]
    ids += [("more correct", t) for t in sig["expansion"]]
    if not ids:
        return f"<p>{_esc(name)}: no problem changed significantly (BH q &lt; {sig['alpha']}).</p>"
    shown = ids[:30]
    samples = {
        side: _samples(result["runs"][side]["path"], [t for _, t in shown]) for side in ("base", "tuned")
    }
    rows, details = [], []
    for kind, task_id in shown:
        p = by_id[task_id]
        anchor = f"s{index}-" + hashlib.blake2b(task_id.encode(), digest_size=6).hexdigest()
        link = f"<td><a href='#{anchor}'>{_esc(task_id)}</a></td>"
        counts = [f"{p['c_base']}/{p['n_base']}", f"{p['c_tuned']}/{p['n_tuned']}", p["region"]]
        rows.append(_row(_td(kind), link, *(_td(c) for c in counts), f"<td>{p['q_value']:.2g}</td>"))
        texts = "".join(
            f"<pre>{_esc(label)}: {_esc(t[:600])}</pre>"
            for side, label in (("base", base_label(result)), ("tuned", name))
            for t in samples[side].get(task_id, [])
        )
        body = texts or "<p>samples not found</p>"
        details.append(f"<details id='{anchor}'><summary>{_esc(task_id)}</summary>{body}</details>")
    more = f"<p>and {len(ids) - len(shown)} more in compare.json.</p>" if len(ids) > len(shown) else ""
    table = _table(["change", "task", "base c/n", "tuned c/n", "region", "q"], rows)
    return f"<h3>{_esc(name)}</h3>{table}{more}{''.join(details)}"


def _lost(name: str, result: dict[str, Any]) -> str:
    """Every problem in region S, significant or not: what the tuned model can no longer reach."""
    lost = shrinkage_problems(result)
    k = result["support"]["problem"]["k"]
    if not lost:
        return (
            f"<p>{_esc(name)}: none; every problem the base solves within k = {k} the tuned model solves.</p>"
        )
    alpha = result["significance"]["alpha"]
    shown = lost[:50]
    rows = []
    for p in shown:
        q = p.get("q_value")
        counts = [p["task_id"], f"{p['c_base']}/{p['n_base']}", f"{p['c_tuned']}/{p['n_tuned']}"]
        significant = "yes" if q is not None and q < alpha else "no"
        rows.append(
            _row(
                *(_td(c) for c in counts),
                "<td>–</td>" if q is None else f"<td>{q:.2g}</td>",
                _td(significant),
            )
        )
    more = f"<p>and {len(lost) - len(shown)} more in compare.json.</p>" if len(lost) > len(shown) else ""
    table = _table(["task", "base c/n", "tuned c/n", "q", f"q < {alpha}"], rows)
    return f"<h3>{_esc(name)}: {len(lost)} lost at k = {k}</h3>{table}{more}"


def _luck_table(results: list[tuple[str, dict[str, Any]]]) -> str:
    """Per tuned run: mean p_guess, luck and model pass@k_max, problems solved and within luck."""
    base = results[0][1]
    k_max = base["se_gap"]["k_max"]
    rows = []
    sides = [(base_label(base), base, "base")] + [(n, r, "tuned") for n, r in results]
    for name, result, side in sides:
        luck = result.get("luck")
        if not luck:
            continue
        curve, model = luck["pass_at_k"], result["pass_at_k"]
        at = curve["k"].index(k_max) if k_max in curve["k"] else None
        cells = [
            luck["p_guess"][side],
            None if at is None else curve[side][at],
            None if at is None else model[side][model["k"].index(k_max)],
        ]
        counts = [luck["solved"][side], luck["within_luck"][side], luck["unchecked_share"][side]]
        rows.append(_row(_td(name), *(_td(v) for v in cells), _td(counts[0]), _td(counts[1]), _td(counts[2])))
    if not rows:
        return (
            "<p class='missing'>No luck baseline: no problem's verifier grades a bare final answer "
            "(code, lm-eval, imported verdicts), the runs recorded no answers, or --luck-answers 0.</p>"
        )
    head = ["answers of", "mean p_guess", f"luck pass@{k_max}", f"model pass@{k_max}", "solved",
            "within luck", "pool share unchecked"]  # fmt: skip
    cost = base.get("luck_cost") or {}
    note = (
        f"<p class='sub'>{_esc(cost.get('pairs_graded'))} (answer, problem) pairs graded through "
        f"{_esc(', '.join(cost.get('verifiers', [])))}, {_esc(cost.get('pairs_known'))} known from the "
        f"runs' grades; the {_esc(cost.get('max_answers'))} most frequent answers per run and dataset "
        "checked against every problem (the rest count as not accepted, so p_guess is a lower bound).</p>"
        if cost
        else ""
    )
    return _table(head, rows) + note


def _reliability_table(results: list[tuple[str, dict[str, Any]]]) -> str:
    base = results[0][1]
    g = base["g_pass_at_k"]
    ks = [k for i, k in enumerate(g["k"]) if g["by_tau"]["0.5"]["base"][i] is not None]
    sides = [(base_label(base), base, "base")] + [(n, r, "tuned") for n, r in results]
    rows = []
    for name, result, side in sides:
        by_tau, mg = result["g_pass_at_k"]["by_tau"], result["mg_pass_at_k"]
        for label, curve in [*((f"G-Pass@k τ={t}", c) for t, c in by_tau.items()), ("mG-Pass@k", mg)]:
            values = [curve[side][curve["k"].index(k)] for k in ks]
            rows.append(_row(_td(name), _td(label), *(_td(v) for v in values)))
    return _table(["model", "metric", *(f"k = {k}" for k in ks)], rows)


def _metadata(results: list[tuple[str, dict[str, Any]]]) -> str:
    runs = [(base_label(results[0][1]), results[0][1]["runs"]["base"])]
    runs += [(n, r["runs"]["tuned"]) for n, r in results]
    rows = []
    for name, meta in runs:
        sampling = meta.get("sampling", {})
        shown = ("temperature", "top_p", "max_tokens", "n")
        params = ", ".join(f"{k}={sampling[k]}" for k in shown if k in sampling)
        source = params or meta.get("source", {}).get("format", "")
        labels = labels_line(meta) or "none"
        values = [name, meta.get("model"), meta.get("path"), meta.get("grader"), source, labels]
        rows.append(_row(*(_td(v) for v in [*values, meta.get("leash_version"), meta.get("created")])))
    head = ["run", "model", "path", "grader", "sampling / source", "labels (leash serve)", "leash", "created"]
    return _table(head, rows)


CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 0.8em; } .grid img { max-width: 520px; }
img { max-width: 100%; } .missing { color: #a15c00; } pre { white-space: pre-wrap; background: #f8f8f8;
padding: 0.5em; font-size: 0.85em; } .sub { color: #666; }
"""


_COMPARE_KEYS = (  # the top-level keys of compare.json the report reads
    "runs", "n", "tasks", "pass_at_k", "avg_at_n", "se_gap", "support", "answer_entropy",
    "significance", "by_dataset", "support_by_k", "perplexity", "entropy", "problems",
)  # fmt: skip


def _read_compare(path: Path) -> dict[str, Any]:
    """A compare.json written by `leash compare`, or one line saying what is wrong with it."""
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LeashError(f"--from {path}: not a readable compare.json ({err})") from err
    missing = [k for k in _COMPARE_KEYS if not isinstance(result, dict) or k not in result]
    runs = result.get("runs") if isinstance(result, dict) else None
    if not missing and not (
        isinstance(runs, dict) and all(isinstance(runs.get(s), dict) for s in ("base", "tuned"))
    ):
        missing = ["runs.base", "runs.tuned"]
    if missing:
        raise LeashError(
            f"--from {path}: an incomplete compare.json (no {', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}); write it again with `leash compare BASE TUNED --out DIR`"
        )
    return dict(result)


def build_report(
    runs: list[str | Path],
    out_dir: str | Path,
    *,
    compare_dir: str | Path | None = None,
    compare_options: dict[str, Any] | None = None,
) -> Path:
    """Compare runs[0] (the base) with each later run, or read compare_dir; write the report.

    Returns the path of report.html.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise LeashError(f"--out {out}: exists and is not a directory; give a directory for the report")
    results: list[tuple[str, dict[str, Any]]] = []
    missing: list[str] = []
    if compare_dir is not None:
        found = sorted(Path(compare_dir).glob("compare*.json"))
        if not found:
            raise LeashError(
                f"--from {compare_dir}: no compare.json there; run `leash compare ... --out DIR` first"
            )
        for f in found:
            result = _read_compare(f)
            results.append((short_name(result["runs"].get("tuned") or {}, f.stem), result))
    else:
        if len(runs) < 2:
            raise LeashError("give a base run and at least one tuned run (or --from COMPARE_DIR)")
        for tuned in runs[1:]:
            try:
                result = compare_runs(runs[0], tuned, **(compare_options or {}))
            except LeashError as err:
                if "has no grades" not in str(err):
                    raise
                missing.append(str(err))
                continue
            results.append((short_name(result["runs"]["tuned"], Path(tuned).name), result))
    names = [n for n, _ in results]
    if len(set(names)) != len(names):  # two tuned runs of one model: tell them apart by path
        results = [(f"{n} ({Path(r['runs']['tuned']['path']).name})", r) for n, r in results]
    files: dict[str, bytes] = {}  # the figures; everything is rendered before anything is written
    try:
        html_text = _render(results, files, missing)
        md = [
            render_markdown(r).replace("# leash compare", f"# {n} vs {base_label(r)}") for n, r in results
        ] or ["# leash report\n\n" + "\n".join(f"- {m}" for m in missing)]
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        if compare_dir is None:
            raise
        raise LeashError(
            f"--from {compare_dir}: compare.json lacks what the report needs ({type(err).__name__}: "
            f"{err}); write it again with `leash compare BASE TUNED --out DIR`"
        ) from err
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    for i, (_, result) in enumerate(results):
        filename = "compare.json" if len(results) == 1 else f"compare-{i + 1}.json"
        (out / filename).write_text(json.dumps(result, indent=1) + "\n")
    (out / "report.html").write_text(html_text)
    (out / "report.md").write_text("\n\n".join(md))
    return out / "report.html"


def _render(results: list[tuple[str, dict[str, Any]]], out: dict[str, bytes], missing: list[str]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>leash report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>leash report</h1>",
    ]
    for note in missing:
        parts.append(f"<p class='missing'>{_esc(note)}</p>")
    if not results:
        parts.append("<p class='missing'>Nothing to compare yet.</p></body></html>")
        return "".join(parts)
    base = results[0][1]
    parts.append(
        f"<p class='sub'>base <b>{_esc(_base_name(base))}</b> vs "
        + ", ".join(f"<b>{_esc(n)}</b>" for n, _ in results)
        + f" · {base['tasks']['compared']} problems · n = {_esc(base['n']['base'])} / "
        + ", ".join(_esc(r["n"]["tuned"]) for _, r in results)
        + "</p>"
    )
    parts.append("<h2>Headline</h2>" + _headline(results))
    parts.append("<h2>pass@k</h2>")
    curve_ks = [
        k for k, v in zip(base["pass_at_k"]["k"], base["pass_at_k"]["base"], strict=True) if v is not None
    ]
    if len(curve_ks) <= 1:
        parts.append(
            "<p class='missing'>One sample per task: no pass@k curve, pass@1 only (see the headline).</p>"
        )
    else:
        png = plots.save(plots.pass_at_k_figure(results, "all problems"), out, "pass_at_k")
        parts.append(_img(png, "pass@k, all problems"))
        datasets = list(base["by_dataset"])
        if len(datasets) > 1:
            parts.append("<h3>By dataset</h3><div class='grid'>")
            for j, d in enumerate(datasets):
                png = plots.save(
                    plots.pass_at_k_figure(
                        results, f"{d} ({base['by_dataset'][d]['n_problems']} problems)", d
                    ),
                    out,
                    f"pass_at_k_{j}",
                )
                parts.append(_img(png, f"pass@k, {d}"))
            parts.append("</div>")
        singles = [d for d in datasets if base["by_dataset"][d]["n_problems"] == 1]
        if singles:
            listed = _esc(", ".join(singles))
            parts.append(f"<p class='missing'>Datasets with a single problem (no band): {listed}.</p>")
    if base.get("luck") is not None or "luck" in base:
        parts.append(
            "<h3>Luck baseline</h3><p>Dashed curves: guessing from the run's own pooled final answers "
            "(each problem's p_guess = the share of the dataset's answers its verifier accepts; "
            "luck pass@k = 1 − (1 − p_guess)^k). A problem is solved <i>within luck</i> when its "
            "success rate c/n is no higher than p_guess.</p>" + _luck_table(results)
        )
    parts.append("<h2>Empirical support</h2>")
    parts.append(_img(plots.save(plots.region_bars_figure(results), out, "regions"), "support regions"))
    if len(base["support_by_k"]["k"]) > 1:
        parts.append(
            _img(plots.save(plots.regions_by_k_figure(results), out, "regions_by_k"), "regions against k")
        )
    parts += [_support_table(n, r, i) for i, (n, r) in enumerate(results)]
    parts.append(
        "<p>P preservation, S shrinkage, E expansion, O out of support; SRR = P/(P+S), NDR = E/(P+E), "
        "SDS = their harmonic mean, NSCR = (E−S)/(P+E+S); ε = −ln ζ / k.</p>"
    )
    if "pass_hat_k" in base:
        parts.append(
            "<h2>Reliability</h2><p>pass^k: the chance that k samples are all correct; cover@τ: the "
            "share of problems whose success rate c/n is at least τ (pass@k is its Beta(1, k)-weighted "
            "mean); G-Pass@k<sub>τ</sub>: at least ⌈τk⌉ of k correct; mG-Pass@k: its mean over "
            "τ in [0.5, 1].</p>"
        )
        png = plots.save(plots.reliability_figure(results), out, "reliability")
        parts.append(_img(png, "pass^k and cover@τ"))
        parts.append(_reliability_table(results))
    if "who_gains" in base:
        parts.append(
            "<h2>Who gains</h2><p>Each point is a problem: its change in pass@k against the base's "
            "pass@1, coloured by support region. Spearman's ρ &gt; 0: the gains go to problems the "
            "base already solves often.</p><div class='grid'>"
        )
        for i, (name, result) in enumerate(results):
            png = plots.save(plots.gains_figure(name, result), out, f"who_gains_{i}")
            parts.append(_img(png, f"who gains, {name}"))
        parts.append("</div>")
    parts.append(
        "<h2>Problems the tuned model lost</h2><p>Shrinkage (region S): the base solves the problem "
        "within the budget k, the tuned model does not; listed whether or not the change is significant.</p>"
    )
    parts += [_lost(n, r) for n, r in results]
    parts.append("<h2>Entropy</h2>" + _entropy_tables(results))
    parts.append("<h2>Perplexity by region</h2>" + _perplexity_tables(results))
    parts.append(
        "<h2>Problems that changed significantly</h2><p>Two-sided Fisher exact test per problem, "
        "Benjamini–Hochberg across problems.</p>"
    )
    parts += [_significant(n, r, i) for i, (n, r) in enumerate(results)]
    parts.append("<h2>Runs</h2>" + _metadata(results))
    parts.append("</body></html>")
    return "\n".join(parts)
