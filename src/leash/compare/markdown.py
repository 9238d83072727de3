"""compare.md: the headline of a comparison as Markdown tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leash.errors import LeashError

__all__ = [
    "base_label",
    "fmt",
    "fmt_count",
    "labels_line",
    "render_markdown",
    "short_name",
    "shrinkage_problems",
    "write_json_and_markdown",
]


def fmt(value: Any, digits: int = 4) -> str:
    """A number as printed in compare.md and the report: fixed digits, '–' for missing."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_count(value: Any) -> str:
    """A region count: a whole number as an integer (48), an expected count with one decimal (47.3)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return fmt(value, 1)


def short_name(run: dict[str, Any], fallback: str = "run") -> str:
    """What tables, legends and headings call a run's model: the last part of its model path or hub
    id (`/home/me/runs/demo/models/grpo` -> `grpo`, `Qwen/Qwen2.5-7B` -> `Qwen2.5-7B`), with the
    folder above for a checkpoint (`grpo/checkpoint-500`). The full name stays in the metadata."""
    model = str(run.get("model") or "").rstrip("/\\")
    parts = [p for p in model.replace("\\", "/").split("/") if p]
    if not parts:
        return str(run.get("name") or fallback)
    if len(parts) > 1 and parts[-1].startswith(("checkpoint", "step", "global_step")):
        return "/".join(parts[-2:])
    return parts[-1]


def base_label(result: dict[str, Any]) -> str:
    """The base run's name in tables and legends: `base`, or `NAME (base)`."""
    name = short_name(result["runs"]["base"], "base")
    return name if name == "base" else f"{name} (base)"


def shrinkage_problems(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems in region S (the base solves them within k, the tuned model does not), the
    likeliest first (fewest tuned successes, then most base successes); significant or not."""
    lost = [p for p in result.get("problems", []) if p.get("region") == "S"]
    return sorted(lost, key=lambda p: (p["c_tuned"] / p["n_tuned"], -p["c_base"] / p["n_base"], p["task_id"]))


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def labels_line(run: dict[str, Any]) -> str | None:
    """What a run's manual labels changed, in one line; None when it has none."""
    effect = run.get("labels") or {}
    if not effect.get("applied") and not effect.get("ignored"):
        return None
    kinds = ", ".join(f"{n} {label}" for label, n in sorted(effect.get("by_label", {}).items()))
    line = (
        f"{_count(effect['applied'], 'label')} applied ({kinds or 'none'}): "
        f"{_count(effect['to_incorrect'], 'verdict')} correct → incorrect, "
        f"{_count(effect['to_correct'], 'verdict')} incorrect → correct; "
        f"c changed on {_count(effect['problems_changed'], 'problem')}"
    )
    if effect.get("ignored"):
        line += f"; {effect['ignored']} not applied (--no-labels, or samples this grader lacks)"
    return line


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _headline(block: dict[str, Any]) -> list[str]:
    se = block["se_gap"]
    k_max = se["k_max"]
    lines = [
        _row(["", "base", "tuned"]),
        _row(["---", "---:", "---:"]),
        _row(["pass@1", fmt(se["pass_at_1"]["base"]), fmt(se["pass_at_1"]["tuned"])]),
        _row([f"pass@{k_max}", fmt(se["pass_at_k_max"]["base"]), fmt(se["pass_at_k_max"]["tuned"])]),
        _row([f"SE gap (pass@{k_max} − pass@1)", fmt(se["base"]), fmt(se["tuned"])]),
        _row(["avg@n", fmt(block["avg_at_n"]["base"]), fmt(block["avg_at_n"]["tuned"])]),
        _row(
            [
                "answer entropy (nats)",
                fmt(block["answer_entropy"]["base"]),
                fmt(block["answer_entropy"]["tuned"]),
            ]
        ),
    ]
    crossing = block["pass_at_k"]["crossover_k"]
    lines += [
        "",
        f"ΔSE (base pass@{k_max} − tuned pass@1): **{fmt(se['delta_se'])}**  ",
        "Crossover k (base overtakes tuned): "
        + (f"**{crossing:g}**" if crossing is not None else "none within the samples"),
    ]
    return lines


def _support(block: dict[str, Any]) -> list[str]:
    lines = [
        _row(["grain", "k", "ε", "P", "S", "E", "O", "SRR", "NDR", "SDS", "NSCR"]),
        _row(["---"] + ["---:"] * 10),
    ]
    for grain in ("problem", "answer"):
        s = block["support"].get(grain)
        if s is None:
            lines.append(_row([grain] + ["–"] * 10))
            continue
        counts = [fmt_count(s[r]) for r in "PSEO"]
        lines.append(
            _row(
                [grain, s["k"], f"{s['epsilon']:.3g}", *counts]
                + [fmt(s[m]) for m in ("SRR", "NDR", "SDS", "NSCR")]
            )
        )
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = ["# leash compare", ""]
    for side in ("base", "tuned"):
        run = runs[side]
        lines.append(
            f"- {side}: **{short_name(run, side)}** (model `{run.get('model')}`, run {run['path']}), "
            f"n = {_n(result['n'][side])}"
        )
    for side in ("base", "tuned"):
        line = labels_line(runs[side])
        if line is not None:
            lines.append(f"- labels ({side}): {line}")
    lines += [
        f"- problems compared: {result['tasks']['compared']}",
        "",
        "## Headline",
        "",
        *_headline(result),
        "",
        "## Empirical support",
        "",
        *_support(result),
        "",
        "P preservation, S shrinkage, E expansion, O out of support; "
        "SRR = P/(P+S), NDR = E/(P+E), SDS = their harmonic mean, NSCR = (E−S)/(P+E+S).",
        "",
    ]
    lines += [*_reliability(result), *_luck(result), *_who_gains(result)]
    sig = result["significance"]
    lines += [
        f"## Significant changes (Fisher exact, BH q < {sig['alpha']})",
        "",
        f"- shrinkage ({len(sig['shrinkage'])}): {_ids(sig['shrinkage'])}",
        f"- expansion ({len(sig['expansion'])}): {_ids(sig['expansion'])}",
        "",
        *_lost(result),
    ]
    if len(result["by_dataset"]) > 1:
        lines += [
            "## By dataset",
            "",
            _row(["dataset", "problems", "pass@1 base", "pass@1 tuned", "pass@k_max base",
                  "pass@k_max tuned", "SRR", "NDR", "NSCR"]),
            _row(["---"] + ["---:"] * 8),
        ]  # fmt: skip
        for name, block in result["by_dataset"].items():
            se, sup = block["se_gap"], block["support"]["problem"]
            lines.append(
                _row(
                    [
                        name,
                        block["n_problems"],
                        fmt(se["pass_at_1"]["base"]),
                        fmt(se["pass_at_1"]["tuned"]),
                        fmt(se["pass_at_k_max"]["base"]),
                        fmt(se["pass_at_k_max"]["tuned"]),
                        fmt(sup["SRR"]),
                        fmt(sup["NDR"]),
                        fmt(sup["NSCR"]),
                    ]
                )
            )
        lines.append("")
    return "\n".join(lines)


def _n(value: Any) -> str:
    if isinstance(value, list):
        return f"{min(value)}–{max(value)} (varies by task)"
    return str(value)


def _ids(ids: list[str], limit: int = 20) -> str:
    if not ids:
        return "none"
    shown = ", ".join(f"`{i}`" for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _lost(result: dict[str, Any]) -> list[str]:
    """Every shrinkage problem, significant or not: what the tuned model can no longer reach."""
    lost = shrinkage_problems(result)
    k = result["support"]["problem"]["k"]
    lines = [f"## Problems the tuned model lost (shrinkage, region S at k = {k}): {len(lost)}", ""]
    if not lost:
        return [*lines, "none", ""]
    lines += [_row(["task", "base c/n", "tuned c/n", "q"]), _row(["---", "---:", "---:", "---:"])]
    for p in lost[:50]:
        q = "–" if p.get("q_value") is None else f"{p['q_value']:.2g}"
        lines.append(
            _row([f"`{p['task_id']}`", f"{p['c_base']}/{p['n_base']}", f"{p['c_tuned']}/{p['n_tuned']}", q])
        )
    if len(lost) > 50:
        lines.append(f"\nand {len(lost) - 50} more in compare.json (`problems`, region S).")
    return [*lines, ""]


def _pick(values: list[Any], grid: list[Any], at: Any) -> Any:
    return values[grid.index(at)] if at in grid else None


def _reliability(result: dict[str, Any]) -> list[str]:
    """pass^k, G-Pass@k_0.5 and mG-Pass@k on the G-Pass grid; cover@τ at four τ."""
    if "pass_hat_k" not in result:  # a compare.json written before these blocks existed
        return []
    hat, g, mg = result["pass_hat_k"], result["g_pass_at_k"], result["mg_pass_at_k"]
    half = g["by_tau"]["0.5"]
    lines = [
        "## Reliability",
        "",
        _row(["k", "pass^k base", "pass^k tuned", "G-Pass@k₀.₅ base", "G-Pass@k₀.₅ tuned",
              "mG-Pass@k base", "mG-Pass@k tuned"]),
        _row(["---:"] * 7),
    ]  # fmt: skip
    for i, k in enumerate(g["k"]):
        if half["base"][i] is None and half["tuned"][i] is None:
            continue
        cells = [_pick(hat[s], hat["k"], k) for s in ("base", "tuned")]
        cells += [half["base"][i], half["tuned"][i], mg["base"][i], mg["tuned"][i]]
        lines.append(_row([k, *(fmt(v) for v in cells)]))
    cover = result["cover_at_tau"]
    shown = [t for t in (0.25, 0.5, 0.75, 1.0) if t in cover["tau"]]
    lines += [
        "",
        _row(["cover@τ", *(f"τ = {t:g}" for t in shown)]),
        _row(["---", *(["---:"] * len(shown))]),
        *(
            _row([side, *(fmt(_pick(cover[side], cover["tau"], t)) for t in shown)])
            for side in ("base", "tuned")
        ),
        "",
        "pass^k: all k samples correct; G-Pass@k_τ: at least ⌈τk⌉ of k correct; mG-Pass@k: its mean "
        "over τ in [0.5, 1]; cover@τ: share of problems with c/n ≥ τ.",
        "",
    ]
    return lines


def _luck(result: dict[str, Any]) -> list[str]:
    luck = result.get("luck")
    if "luck" not in result:
        return []
    if luck is None:
        return [
            "## Luck baseline",
            "",
            "not computed: no problem's verifier grades a bare final answer, the runs recorded no "
            "answers, or --luck-answers 0.",
            "",
        ]
    k_max = result["se_gap"]["k_max"]
    curve = luck["pass_at_k"]
    model = result["pass_at_k"]
    rows = [
        ("mean p_guess", luck["p_guess"]["base"], luck["p_guess"]["tuned"]),
        (f"luck pass@{k_max}", *(_pick(curve[s], curve["k"], k_max) for s in ("base", "tuned"))),
        (f"model pass@{k_max}", *(_pick(model[s], model["k"], k_max) for s in ("base", "tuned"))),
        ("problems solved", luck["solved"]["base"], luck["solved"]["tuned"]),
        ("solved within luck (c/n ≤ p_guess)", luck["within_luck"]["base"], luck["within_luck"]["tuned"]),
        ("pool share not checked", luck["unchecked_share"]["base"], luck["unchecked_share"]["tuned"]),
    ]
    lines = [
        f"## Luck baseline ({luck['n_problems']} problems)",
        "",
        _row(["", "base", "tuned"]),
        _row(["---", "---:", "---:"]),
        *(_row([label, fmt(b), fmt(t)]) for label, b, t in rows),
        "",
        "p_guess: the share of the run's pooled final answers (over the problem's dataset) that the "
        "problem's verifier accepts; luck pass@k = 1 − (1 − p_guess)^k.",
    ]
    uniform = luck.get("uniform")
    if uniform is not None:
        lines.append(
            f"Uniform guessing over the options ({uniform['n_problems']} choice problems): "
            f"pass@{k_max} = {fmt(_pick(uniform['pass_at_k'], uniform['k'], k_max))}."
        )
    cost = result.get("luck_cost") or {}
    if cost:
        lines.append(
            f"Cost: {cost['pairs_graded']} (answer, problem) pairs graded, {cost['pairs_known']} known from "
            f"the runs' grades, the {cost['max_answers']} most frequent answers per run and dataset checked."
        )
    return [*lines, ""]


def _who_gains(result: dict[str, Any]) -> list[str]:
    gains = result.get("who_gains")
    if gains is None:
        return []
    cells = [f"k = {k}: ρ = {fmt(r, 3)}, mean Δ = {fmt(d)}" for k, r, d in
             zip(gains["k"], gains["spearman"], gains["mean_delta"], strict=True)]  # fmt: skip
    return [
        "## Who gains",
        "",
        "Spearman's ρ between the base's pass@1 and each problem's Δpass@k (tuned − base): "
        + "; ".join(cells)
        + ". ρ > 0: the gains go to problems the base already solves often.",
        "",
    ]


def write_json_and_markdown(
    result: dict[str, Any], markdown: str, out_dir: str | Path, stem: str
) -> tuple[Path, Path]:
    """Write out_dir/<stem>.json and out_dir/<stem>.md, each under a temporary name renamed into place."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise LeashError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    for path, text in ((json_path, json.dumps(result, indent=1) + "\n"), (md_path, markdown)):
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(text)
        tmp.replace(path)
    return json_path, md_path
