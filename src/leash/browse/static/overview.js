// The overview: runs, headline numbers, pass@k curves, and the problem list (server-side pages).
"use strict";

(function () {
  const {el, clear, api, fmt, showError} = leash;
  const state = {vs: "", k: "", region: "", dataset: "", significance: "", text: "", sort: "task_id",
    order: "asc", page: 1};
  let info = null;

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    for (const key of Object.keys(state)) if (params.has(key)) state[key] = params.get(key);
    state.page = Number(state.page) || 1;
  }

  function writeUrl() {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(state)) if (value !== "" && value !== null) params.set(key, value);
    history.replaceState(null, "", "?" + params.toString());
  }

  function runsTable() {
    const table = clear(document.getElementById("runs"));
    table.appendChild(el("tr", {}, ["", "name", "model", "grader", "samples", "scores", "path"].map((h) => el("th", {}, h))));
    for (const run of info.runs) {
      table.appendChild(el("tr", {}, el("td", {}, String(run.index)), el("td", {}, leash.runName(run)),
        el("td", {}, run.model || "–"), el("td", {}, run.grader), el("td", {}, String(run.samples)),
        el("td", {}, run.scores ? "yes" : "no"), el("td", {class: "muted"}, run.path)));
    }
  }

  function headline() {
    const table = clear(document.getElementById("headline"));
    const effect = clear(document.getElementById("labels-effect"));
    if (!info.pairs.length) {
      table.appendChild(el("tr", {}, el("td", {}, "One run: the problem list shows its c/n; give a base and a tuned run to compare.")));
      return;
    }
    const names = info.runs.map((r) => r.name);
    table.appendChild(el("tr", {}, el("th", {}, ""), el("th", {}, leash.runName(info.runs[0])),
      ...info.pairs.map((p) => el("th", {}, names[p.tuned]))));
    const first = info.pairs[0];
    const row = (label, base, values) => table.appendChild(el("tr", {}, el("th", {}, label),
      el("td", {}, base), ...values.map((v) => el("td", {}, v))));
    row("pass@1", fmt(first.pass_at_1.base), info.pairs.map((p) => fmt(p.pass_at_1.tuned)));
    row(`pass@${first.k_max}`, fmt(first.pass_at_k_max.base), info.pairs.map((p) => fmt(p.pass_at_k_max.tuned)));
    row("SE gap", fmt(first.se_gap.base), info.pairs.map((p) => fmt(p.se_gap.tuned)));
    row("ΔSE", "–", info.pairs.map((p) => fmt(p.delta_se)));
    row("crossover k", "–", info.pairs.map((p) => fmt(p.crossover_k)));
    for (const key of ["P", "S", "E", "O"]) row(`${key} (k = ${first.support.k})`, "–", info.pairs.map((p) => fmt(p.support[key], 1)));
    for (const key of ["SRR", "NDR", "SDS", "NSCR"]) row(key, "–", info.pairs.map((p) => fmt(p.support[key])));
    row("significant shrinkage / expansion", "–", info.pairs.map((p) => `${p.shrinkage} / ${p.expansion}`));
    const lines = [];
    info.pairs.forEach((p, j) => {
      if (j === 0 && p.labels.base) lines.push(`labels (${names[0]}): ${p.labels.base}`);
      if (p.labels.tuned) lines.push(`labels (${names[p.tuned]}): ${p.labels.tuned}`);
    });
    effect.textContent = lines.length ? lines.join(" · ") : "no labels yet: open a problem and press o / l / b / n on a sample";
  }

  // pass@k mean curves on a log2 axis, drawn as SVG (presentation attributes only: the CSP allows no inline style).
  function curve() {
    const box = clear(document.getElementById("curve"));
    const ns = "http://www.w3.org/2000/svg";
    const make = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const W = 460, H = 280, L = 46, R = 12, T = 12, B = 36;
    const ks = info.curve.k;
    const svg = make("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "pass@k curves"});
    const xmax = Math.max(1, Math.log2(ks[ks.length - 1]));
    const x = (k) => L + (W - L - R) * (Math.log2(k) / xmax);
    const y = (v) => T + (H - T - B) * (1 - v);
    svg.appendChild(make("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#ccc"}));
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(make("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eee"}));
      svg.appendChild(make("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11}, v.toFixed(2)));
    }
    for (const k of ks) svg.appendChild(make("text", {x: x(k), y: H - B + 14, "text-anchor": "middle", "font-size": 11}, String(k)));
    svg.appendChild(make("text", {x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", "font-size": 12}, "k (samples, log₂ axis)"));
    const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    info.curve.series.forEach((series, i) => {
      const points = series.values.map((v, j) => `${x(ks[j])},${y(v)}`).join(" ");
      svg.appendChild(make("polyline", {points, fill: "none", stroke: colors[i % colors.length], "stroke-width": 2}));
      svg.appendChild(make("text", {x: L + 8, y: T + 16 + 15 * i, fill: colors[i % colors.length], "font-size": 12},
        leash.runName(info.runs[i])));
    });
    box.appendChild(svg);
  }

  function filters() {
    const vs = clear(document.getElementById("f-vs"));
    if (!info.pairs.length) vs.appendChild(el("option", {value: ""}, "–"));
    for (const p of info.pairs) vs.appendChild(el("option", {value: String(p.tuned)}, info.runs[p.tuned].name));
    const datasets = document.getElementById("f-dataset");
    for (const d of info.datasets) datasets.appendChild(el("option", {value: d}, d));
    document.getElementById("f-k").max = info.k_max;
    document.getElementById("f-k").placeholder = String(info.k_max);
    for (const key of ["vs", "k", "region", "dataset", "significance", "text"]) {
      const input = document.getElementById(`f-${key}`);
      input.value = state[key];
      if (key === "vs" && !state.vs && info.pairs.length) input.value = String(info.pairs[0].tuned);
      input.addEventListener(key === "text" ? "input" : "change", () => {
        state[key] = input.value;
        state.page = 1;
        load();
      });
    }
    if (!info.pairs.length) for (const key of ["vs", "k", "region", "significance"]) document.getElementById(`f-${key}`).disabled = true;
    document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
    document.getElementById("prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); load(); });
    document.getElementById("next").addEventListener("click", () => { state.page += 1; load(); });
  }

  function header(table, vs) {
    const cols = [["task_id", "task"], ["dataset", "dataset"]];
    if (info.pairs.length) cols.push(["region", "region"]);
    info.runs.forEach((r, i) => cols.push([`rate_${i}`, `${r.name} c/n`]));
    if (info.pairs.length) cols.push(["q", "Fisher–BH q"]);
    table.appendChild(el("tr", {}, cols.map(([key, label]) => {
      const mark = state.sort === key ? (state.order === "asc" ? " ▲" : " ▼") : "";
      return el("th", {class: "sortable", "data-sort": key, onclick: () => {
        state.order = state.sort === key && state.order === "asc" ? "desc" : "asc";
        state.sort = key;
        load();
      }}, label + mark);
    })));
  }

  let pending = 0;
  async function load() {
    const ticket = ++pending;
    writeUrl();
    try {
      const data = await api("/api/problems", {...state, per_page: 50});
      if (ticket !== pending) return;  // a newer request is on its way
      const table = clear(document.getElementById("problems"));
      header(table, data.vs);
      for (const row of data.rows) {
        const href = `/problem?task=${encodeURIComponent(row.task_id)}${data.vs ? `&vs=${data.vs}` : ""}`;
        const cells = [el("td", {}, el("a", {href, class: "task-link"}, row.task_id)), el("td", {}, row.dataset || "–")];
        if (info.pairs.length) cells.push(el("td", {class: `region region-${row.region}`}, row.region));
        row.c.forEach((c, i) => cells.push(el("td", {class: "num"}, `${c}/${row.n[i]}`)));
        if (info.pairs.length) cells.push(el("td", {class: "num"}, row.q === null ? "–" : row.q.toPrecision(2)));
        table.appendChild(el("tr", {"data-task": row.task_id}, cells));
      }
      const pages = Math.max(1, Math.ceil(data.total / data.per_page));
      document.getElementById("count").textContent = `${data.total} shown of ${info.problems} · region at k = ${data.k}`;
      document.getElementById("page").textContent = `page ${data.page} of ${pages}`;
      document.getElementById("prev").disabled = data.page <= 1;
      document.getElementById("next").disabled = data.page >= pages;
    } catch (err) {
      showError(err);
    }
  }

  async function start() {
    readUrl();
    try {
      info = await api("/api/overview");
    } catch (err) {
      showError(err);
      return;
    }
    document.getElementById("subtitle").textContent =
      `${info.runs.length} run(s) · ${info.problems} problems · labels honoured as in leash compare`;
    runsTable();
    headline();
    curve();
    filters();
    load();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
