// A problem page: answers per run, lost solutions side by side, samples with labels by keystroke.
"use strict";

(function () {
  const {el, clear, api, fmt, showError} = leash;
  const params = new URLSearchParams(window.location.search);
  const task = params.get("task");
  const vsParam = params.get("vs");
  let data = null;
  let raw = false;
  const browsers = {};  // run index -> {answer, offset}

  function verdictText(s) {
    const mark = s.verdict ? "✓ correct" : "✗ incorrect";
    const grader = s.correct === null ? "no verdict" : s.correct ? "✓" : "✗";
    return s.label && s.verdict !== Boolean(s.correct) ? `${mark} (grader ${grader}, labelled)` : mark;
  }

  function card(s) {
    const name = data.runs[s.run].name;
    const facts = [`${name} #${s.sample_idx}`, verdictText(s), `answer: ${s.answer === null ? "none" : s.answer}`,
      `status: ${s.status || "–"}`];
    if (s.detail) facts.push(`detail: ${s.detail}`);
    if (s.score !== null && s.score !== undefined) facts.push(`score ${fmt(s.score, 3)}`);
    if (s.n_tokens !== null && s.n_tokens !== undefined) facts.push(`${s.n_tokens} tokens`);
    if (s.finish_reason) facts.push(s.finish_reason);
    for (const sc of s.scores || []) {
      facts.push(`${sc.scorer}: log-prob ${fmt(sc.logprob_sum, 2)}, entropy ${fmt(sc.token_entropy_mean, 3)}`);
    }
    const node = el("div", {class: `sample ${s.verdict ? "right" : "wrong"}`, tabindex: 0, "data-run": s.run,
      "data-idx": s.sample_idx});
    const badge = el("span", {class: `badge ${s.label ? "label-" + s.label : "hidden"}`}, s.label ? `label: ${s.label}` : "");
    node.appendChild(el("div", {class: "facts"}, facts.map((f) => el("span", {}, f)), badge));
    if (s.note) node.appendChild(el("div", {class: "note"}, `note: ${s.note}`));
    node.appendChild(leash.completion(s.text, raw));
    const buttons = el("div", {class: "buttons"});
    for (const [label, key] of [["ok", "o"], ["lucky", "l"], ["bad-grade", "b"], ["note", "n"]]) {
      buttons.appendChild(el("button", {type: "button", "data-label": label, onclick: () => act(node, label)}, `${label} (${key})`));
    }
    node.appendChild(buttons);
    node._sample = s;
    return node;
  }

  async function save(node, label, note) {
    const s = node._sample;
    try {
      const out = await api("/api/label", {}, {run: s.run, task_id: task, sample_idx: s.sample_idx, label, note});
      const fresh = card(out.sample);
      node.replaceWith(fresh);
      fresh.focus();
    } catch (err) {
      showError(err);
    }
  }

  function act(node, label) {
    if (label !== "note") return save(node, label, null);
    if (node.querySelector("input.note-input")) return;
    const input = el("input", {class: "note-input", type: "text", placeholder: "a note; Enter saves, Esc cancels"});
    input.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Enter" && input.value.trim()) save(node, "note", input.value.trim());
      if (e.key === "Escape") { input.remove(); node.focus(); }
    });
    node.insertBefore(input, node.querySelector(".buttons"));
    input.focus();
  }

  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
    const cards = Array.from(document.querySelectorAll(".sample"));
    const current = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".sample") : null;
    if (e.key === "j" || e.key === "k") {
      const at = cards.indexOf(current);
      const next = cards[Math.min(cards.length - 1, Math.max(0, at + (e.key === "j" ? 1 : -1)))];
      if (next) next.focus();
    } else if (e.key === "r") {
      raw = !raw;
      render();
    } else if (current && {o: "ok", l: "lucky", b: "bad-grade", n: "note"}[e.key]) {
      e.preventDefault();
      act(current, {o: "ok", l: "lucky", b: "bad-grade", n: "note"}[e.key]);
    }
  });

  function answersColumn(run) {
    const table = el("table", {class: "answers"},
      el("tr", {}, el("th", {}, "answer"), el("th", {}, "samples"), el("th", {}, "correct")));
    for (const a of run.answers) {
      const pick = el("a", {href: "#samples", class: "answer-link", onclick: (e) => {
        e.preventDefault();
        browsers[run.index] = {answer: a.answer, offset: 0};
        loadSamples(run.index);
        document.getElementById("samples").scrollIntoView();
      }}, a.answer === null ? "(no answer)" : a.answer);
      table.appendChild(el("tr", {class: a.correct ? "right" : "wrong"}, el("td", {}, pick),
        el("td", {class: "num"}, String(a.count)), el("td", {}, a.correct ? `✓ ${a.correct_count}` : "✗")));
    }
    return el("div", {class: "column"}, el("h3", {}, `${run.name}: ${run.c}/${run.n} correct`), table);
  }

  function lost() {
    const box = clear(document.getElementById("lost"));
    const section = document.getElementById("lost-section");
    if (!data.vs) { section.hidden = true; return; }
    const base = data.runs[0].name, tuned = data.runs[data.vs].name;
    document.getElementById("lost-count").textContent = `${data.lost.length} (${base} vs ${tuned})`;
    if (!data.lost.length) box.appendChild(el("p", {}, `none: ${tuned} found every correct answer ${base} found.`));
    for (const item of data.lost) {
      const left = el("div", {class: "column"}, el("h3", {class: "lost-answer"},
        `${base} found ${item.answer} (correct) ${item.count}×; ${tuned} ${item.count_vs}×`), item.examples.map(card));
      const right = el("div", {class: "column"}, el("h3", {}, `${tuned}'s most common answers`),
        data.vs_top.map((t) => el("div", {}, el("p", {class: "muted"},
          `${t.answer === null ? "(no answer)" : t.answer}: ${t.count}× ${t.correct ? "✓" : "✗"}`), t.examples.map(card))));
      box.appendChild(el("div", {class: "columns lost"}, left, right));
    }
  }

  async function loadSamples(i) {
    const column = document.getElementById(`samples-${i}`);
    const state = browsers[i] || {answer: undefined, offset: 0};
    const query = {task, run: i, offset: state.offset, limit: 5};
    if (state.answer !== undefined) {
      if (state.answer === null) query.no_answer = 1; else query.answer = state.answer;
    }
    try {
      const page = await api("/api/samples", query);
      clear(column);
      const what = state.answer === undefined ? "all samples" : `answer ${state.answer === null ? "(none)" : state.answer}`;
      const nav = el("p", {class: "pager"},
        el("button", {type: "button", disabled: state.offset <= 0, onclick: () => { state.offset = Math.max(0, state.offset - 5); browsers[i] = state; loadSamples(i); }}, "←"),
        ` ${what}: ${page.total ? state.offset + 1 : 0}–${state.offset + page.samples.length} of ${page.total} `,
        el("button", {type: "button", disabled: state.offset + 5 >= page.total, onclick: () => { state.offset += 5; browsers[i] = state; loadSamples(i); }}, "→"),
        state.answer === undefined ? null : el("button", {type: "button", onclick: () => { browsers[i] = {answer: undefined, offset: 0}; loadSamples(i); }}, "all"));
      column.appendChild(el("h3", {}, data.runs[i].name));
      column.appendChild(nav);
      for (const s of page.samples) column.appendChild(card(s));
    } catch (err) {
      showError(err);
    }
  }

  function render() {
    const prompt = clear(document.getElementById("prompt"));
    prompt.appendChild(leash.completion(data.task.prompt, raw));
    const reference = clear(document.getElementById("reference"));
    const ref = data.task.reference;
    reference.appendChild(el("pre", {}, ref === null ? "(none)" : typeof ref === "string" ? ref : JSON.stringify(ref, null, 1)));
    const answers = clear(document.getElementById("answers"));
    for (const run of data.runs) answers.appendChild(answersColumn(run));
    lost();
    const samples = clear(document.getElementById("samples"));
    const shown = data.vs ? [0, data.vs] : data.runs.map((r) => r.index);
    for (const i of shown) {
      samples.appendChild(el("div", {class: "column", id: `samples-${i}`}));
      loadSamples(i);
    }
  }

  async function start() {
    if (!task) { showError(new Error("no task given: open a problem from the overview")); return; }
    try {
      data = await api("/api/problem", {task, vs: vsParam});
    } catch (err) {
      showError(err);
      return;
    }
    document.title = `leash serve: ${task}`;
    document.getElementById("title").textContent = `${data.task.task_id} · ${data.task.dataset || ""}`;
    document.getElementById("back").href = "/" + (data.vs ? `?vs=${data.vs}` : "");
    render();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
