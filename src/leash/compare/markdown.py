"""compare.md: the headline of a comparison as Markdown tables."""

from __future__ import annotations

from typing import Any

__all__ = ["fmt", "render_markdown"]


def fmt(value: Any, digits: int = 4) -> str:
    """A number as printed in compare.md and the report: fixed digits, '–' for missing."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


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
        counts = [fmt(s[r], 1) if isinstance(s[r], float) and s[r] % 1 else fmt(s[r], 0) for r in "PSEO"]
        lines.append(
            _row(
                [grain, s["k"], f"{s['epsilon']:.3g}", *counts]
                + [fmt(s[m]) for m in ("SRR", "NDR", "SDS", "NSCR")]
            )
        )
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        "# leash compare",
        "",
        f"- base: `{runs['base'].get('model')}` ({runs['base']['path']}), n = {_n(result['n']['base'])}",
        f"- tuned: `{runs['tuned'].get('model')}` ({runs['tuned']['path']}), n = {_n(result['n']['tuned'])}",
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
    sig = result["significance"]
    lines += [
        f"## Significant changes (Fisher exact, BH q < {sig['alpha']})",
        "",
        f"- shrinkage ({len(sig['shrinkage'])}): {_ids(sig['shrinkage'])}",
        f"- expansion ({len(sig['expansion'])}): {_ids(sig['expansion'])}",
        "",
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
