// leash serve: helpers shared by both pages. Model output is hostile HTML: every text from the
// server goes into the page through textContent (el() below), never innerHTML.
"use strict";

const leash = {};

// el("div", {class: "x", "data-k": "v"}, child, "text", ...): an element; strings become text nodes.
leash.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return node;
};

leash.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

leash.api = async function (path, params, body) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
};

leash.showError = function (err) {
  const box = document.getElementById("error");
  if (!box) return;
  box.hidden = false;
  box.textContent = String(err.message || err);
};

leash.fmt = function (value, digits) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(digits === undefined ? 4 : digits);
};

// ---- LaTeX made readable as plain text (no TeX engine: nothing is fetched, nothing runs) ----
const SYMBOLS = {
  cdot: "·", times: "×", div: "÷", pm: "±", mp: "∓", le: "≤", leq: "≤", ge: "≥", geq: "≥",
  ne: "≠", neq: "≠", approx: "≈", equiv: "≡", infty: "∞", to: "→", rightarrow: "→",
  Rightarrow: "⇒", implies: "⇒", iff: "⇔", in: "∈", notin: "∉", subset: "⊂", cup: "∪", cap: "∩",
  sum: "∑", prod: "∏", int: "∫", partial: "∂", nabla: "∇", forall: "∀", exists: "∃",
  angle: "∠", circ: "∘", degree: "°", ldots: "…", cdots: "⋯", dots: "…", quad: " ", qquad: "  ",
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
  eta: "η", theta: "θ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
  rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
  Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Pi: "Π", Sigma: "Σ", Phi: "Φ", Omega: "Ω",
  left: "", right: "", displaystyle: "", lfloor: "⌊", rfloor: "⌋", lceil: "⌈", rceil: "⌉",
};
const SUP = {"0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸",
  "9": "⁹", "+": "⁺", "-": "⁻", "=": "⁼", "(": "⁽", ")": "⁾", "n": "ⁿ", "i": "ⁱ"};
const SUB = {"0": "₀", "1": "₁", "2": "₂", "3": "₃", "4": "₄", "5": "₅", "6": "₆", "7": "₇", "8": "₈",
  "9": "₉", "+": "₊", "-": "₋", "=": "₌", "(": "₍", ")": "₎"};

function script(text, table, mark) {
  const chars = Array.from(text);
  return chars.every((c) => table[c]) ? chars.map((c) => table[c]).join("") : `${mark}(${text})`;
}

leash.readableTex = function (text) {
  let s = text.replace(/\\\[|\\\]|\\\(|\\\)|\$\$?/g, "");
  const inner = "([^{}]*)";
  const rules = [
    [new RegExp(`\\\\[dt]?frac\\{${inner}\\}\\{${inner}\\}`, "g"),
      (_, a, b) => (/^[\w.]+$/.test(a) ? a : `(${a})`) + "/" + (/^[\w.]+$/.test(b) ? b : `(${b})`)],
    [new RegExp(`\\\\sqrt\\[${"([^\\]]*)"}\\]\\{${inner}\\}`, "g"), (_, n, a) => `${script(n, SUP, "^")}√(${a})`],
    [new RegExp(`\\\\sqrt\\{${inner}\\}`, "g"), (_, a) => (/^\w+$/.test(a) ? `√${a}` : `√(${a})`)],
    [new RegExp(`\\\\boxed\\{${inner}\\}`, "g"), (_, a) => `⟦${a}⟧`],
    [new RegExp(`\\\\(?:text|mathrm|mathbf|mathit|textbf|operatorname|mbox)\\{${inner}\\}`, "g"), (_, a) => a],
    [new RegExp(`\\^\\{${inner}\\}`, "g"), (_, a) => script(a, SUP, "^")],
    [new RegExp(`_\\{${inner}\\}`, "g"), (_, a) => script(a, SUB, "_")],
  ];
  for (let round = 0; round < 8; round++) {  // innermost braces first, then the ones around them
    const before = s;
    for (const [pattern, replace] of rules) s = s.replace(pattern, replace);
    if (s === before) break;
  }
  s = s.replace(/\^(\d)/g, (_, d) => SUP[d]).replace(/_(\d)/g, (_, d) => SUB[d]);
  s = s.replace(/\\([A-Za-z]+)/g, (whole, name) => (name in SYMBOLS ? SYMBOLS[name] : whole));
  return s.replace(/\\[,;:!]/g, " ").replace(/\\\{/g, "{").replace(/\\\}/g, "}");
};

// A completion as nodes: <think>…</think> folded into <details>, the rest as readable text.
leash.completion = function (text, raw) {
  const box = leash.el("div", {class: "completion"});
  if (text === null || text === undefined) {
    box.appendChild(leash.el("p", {class: "muted"}, "(no text stored)"));
    return box;
  }
  const show = (t) => (raw ? t : leash.readableTex(t));
  const pattern = /<think>([\s\S]*?)(<\/think>|$)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) box.appendChild(leash.el("pre", {}, show(text.slice(last, match.index))));
    const thought = match[1];
    box.appendChild(leash.el("details", {class: "think"},
      leash.el("summary", {}, `think (${thought.length} characters)`), leash.el("pre", {}, show(thought))));
    last = match.index + match[0].length;
  }
  if (last < text.length) box.appendChild(leash.el("pre", {}, show(text.slice(last))));
  return box;
};

// What tables and legends call a run: its name, with "(base)" for the base unless it is named so.
leash.runName = function (run) {
  return run.index === 0 && run.name !== "base" ? `${run.name} (base)` : run.name;
};
