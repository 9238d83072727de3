"""The report's figures, drawn with matplotlib (static PNG and SVG, no JavaScript).

Each function returns a matplotlib Figure; `save` writes it as PNG and SVG and
returns the PNG bytes for inlining.
"""

from __future__ import annotations

import io
from typing import Any

from leash.compare.markdown import base_label, fmt_count
from leash.errors import LeashError

__all__ = [
    "gains_figure",
    "pass_at_k_figure",
    "region_bars_figure",
    "regions_by_k_figure",
    "reliability_figure",
    "save",
    "series_figure",
    "sweep_figure",
]

COLORS = ["#1f4e79", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085"]
REGION_COLORS = {"P": "#4c72b0", "S": "#c44e52", "E": "#55a868", "O": "#8c8c8c"}
REGION_NAMES = {"P": "preservation", "S": "shrinkage", "E": "expansion", "O": "out of support"}


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise LeashError("leash report draws with matplotlib: pip install 'leash[report]'") from err

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curve(
    ax: Any,
    block: dict[str, Any],
    side: str,
    label: str,
    color: str,
    x: str = "k",
    band: bool = True,
    **style: Any,
) -> None:
    ks, values = block[x], block[side]
    pts = [(k, v, b) for k, v, b in zip(ks, values, block[f"{side}_band"], strict=True) if v is not None]
    if not pts:
        return
    xs = [p[0] for p in pts]
    ax.plot(xs, [p[1] for p in pts], color=color, label=label, **{"marker": "o", "markersize": 3, **style})
    if band and len(pts) > 1:
        ax.fill_between(
            xs, [p[2][0] for p in pts], [p[2][1] for p in pts], color=color, alpha=0.15, linewidth=0
        )


def pass_at_k_figure(
    results: list[tuple[str, dict[str, Any]]], title: str, dataset: str | None = None
) -> Any:
    """Base and every tuned run's pass@k against k (log2 axis), with bootstrap bands."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=110)
    first = results[0][1] if dataset is None else results[0][1]["by_dataset"][dataset]
    _curve(ax, first["pass_at_k"], "base", base_label(results[0][1]), COLORS[0])
    for i, (name, result) in enumerate(results):
        block = result if dataset is None else result["by_dataset"][dataset]
        _curve(ax, block["pass_at_k"], "tuned", name, COLORS[(i + 1) % len(COLORS)])
        crossing = block["pass_at_k"].get("crossover_k")
        if crossing is not None:
            color = COLORS[(i + 1) % len(COLORS)]
            label = f"base overtakes {name} at k = {crossing:g}"
            ax.axvline(crossing, color=color, linestyle=":", linewidth=1.2, label=label)
            ax.annotate(
                f"k = {crossing:g}", (crossing, 1.0), xytext=(3, -3), textcoords="offset points",
                color=color, fontsize=7, rotation=90, va="top",
            )  # fmt: skip
    if dataset is None:
        _luck_curves(ax, results)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _luck_curves(ax: Any, results: list[tuple[str, dict[str, Any]]]) -> None:
    """Dashed: guessing from each run's pooled answers; dotted grey: uniform over the options."""
    luck = results[0][1].get("luck")
    if not luck:
        return
    style: dict[str, Any] = {"linestyle": "--", "marker": None, "linewidth": 1.1, "band": False}
    _curve(ax, luck["pass_at_k"], "base", f"luck, {base_label(results[0][1])}'s answers", COLORS[0], **style)
    for i, (name, result) in enumerate(results):
        if result.get("luck"):
            color = COLORS[(i + 1) % len(COLORS)]
            _curve(ax, result["luck"]["pass_at_k"], "tuned", f"luck, {name}'s answers", color, **style)
    uniform = luck.get("uniform")
    if uniform:
        ax.plot(uniform["k"], uniform["pass_at_k"], linestyle=":", color="#777777", linewidth=1.1,
                label=f"uniform guess ({uniform['n_problems']} choice problems)")  # fmt: skip


def reliability_figure(results: list[tuple[str, dict[str, Any]]]) -> Any:
    """Left: pass^k against k (log2); right: cover@τ against τ; bands over problems."""
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6), dpi=110)
    base = results[0][1]
    for ax, key, x in ((left, "pass_hat_k", "k"), (right, "cover_at_tau", "tau")):
        _curve(ax, base[key], "base", base_label(base), COLORS[0], x=x)
        for i, (name, result) in enumerate(results):
            _curve(ax, result[key], "tuned", name, COLORS[(i + 1) % len(COLORS)], x=x)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    left.set_xscale("log", base=2)
    left.set_xlabel("k (samples)")
    left.set_ylabel("pass^k (all k correct)")
    right.set_xlabel("τ (per-problem success rate c/n at least τ)")
    right.set_ylabel("cover@τ (share of problems)")
    fig.tight_layout()
    return fig


def gains_figure(name: str, result: dict[str, Any]) -> Any:
    """Per problem: Δpass@k (tuned − base) at a small and a large k against the base's pass@1,
    coloured by support region; the title gives Spearman's ρ."""
    plt = _plt()
    gains = result["who_gains"]
    fig, axes = plt.subplots(1, len(gains["k"]), figsize=(4.6 * len(gains["k"]), 3.4), dpi=110, squeeze=False)
    problems = result["problems"]
    x = [p["c_base"] / p["n_base"] for p in problems]
    for j, (ax, k) in enumerate(zip(axes[0], gains["k"], strict=True)):
        for region in "PSEO":
            pts = [(xi, p["delta_pass_at_k"][j]) for xi, p in zip(x, problems, strict=True)
                   if p["region"] == region and p["delta_pass_at_k"][j] is not None]  # fmt: skip
            if pts:
                ax.scatter([a for a, _ in pts], [b for _, b in pts], s=12, alpha=0.7,
                           color=REGION_COLORS[region], label=f"{region} {REGION_NAMES[region]}")  # fmt: skip
        ax.axhline(0, color="#444444", linewidth=0.8)
        rho = gains["spearman"][j]
        ax.set_title(f"k = {k}: Spearman ρ = {'–' if rho is None else f'{rho:.3f}'}", fontsize=9)
        ax.set_xlabel(f"{base_label(result)} pass@1")
        ax.set_ylabel(f"Δpass@{k} ({name} − base)")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


_GRAINS = {"problem": "problems", "answer": "distinct correct answers"}


def region_bars_figure(results: list[tuple[str, dict[str, Any]]]) -> Any:
    """Stacked P/S/E/O counts per tuned run: one panel per grain, each on its own axis (a problem
    and a distinct correct answer are different units), each bar labelled with its counts."""
    plt = _plt()
    grains = [g for g in _GRAINS if any(r["support"].get(g) is not None for _, r in results)]
    fig, axes = plt.subplots(
        1, len(grains), figsize=(5.0 * len(grains), 1.3 + 0.55 * len(results)), dpi=110, squeeze=False
    )
    for ax, grain in zip(axes[0], grains, strict=True):
        names = [name for name, r in results if r["support"].get(grain) is not None]
        for y, (_, result) in enumerate((n, r) for n, r in results if r["support"].get(grain) is not None):
            block = result["support"][grain]
            left = 0.0
            for region in "PSEO":
                value = float(block[region])
                ax.barh(y, value, left=left, color=REGION_COLORS[region])
                if value > 0:
                    ax.text(left + value / 2, y, fmt_count(value), ha="center", va="center", fontsize=7,
                            color="white")  # fmt: skip
                left += value
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(_GRAINS[grain])
        ax.set_title(f"{grain} grain", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=REGION_COLORS[r]) for r in "PSEO"]
    fig.legend(handles, [f"{r} {REGION_NAMES[r]}" for r in "PSEO"], ncol=4, fontsize=8, loc="upper center",
               frameon=False)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def regions_by_k_figure(results: list[tuple[str, dict[str, Any]]]) -> Any:
    """Expected problem-grain region counts against the budget k, one panel per tuned run."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(results), figsize=(4.4 * len(results), 3.2), dpi=110, squeeze=False)
    for ax, (name, result) in zip(axes[0], results, strict=True):
        data = result["support_by_k"]
        for region in "PSEO":
            ax.plot(
                data["k"], data[region], marker="o", markersize=3, color=REGION_COLORS[region], label=region
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("budget k")
        ax.set_ylabel("expected problems")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


_STYLES = ["-", "--", ":", "-."]


def _series_values(result: dict[str, Any], panel: str, index: int) -> list[float | None]:
    """One curve of a series.json: the value of each step for a panel's `index`-th quantity."""
    rows = result["steps"]
    if panel == "pass":
        return [r[("pass_at_1", "pass_at_k_max")[index]] for r in rows]
    if panel == "support":
        return [r["support"][("SRR", "NDR", "NSCR")[index]] for r in rows]
    if panel == "cover":
        return [r["cover_at"][index] for r in rows]
    return [r["answer_entropy"] for r in rows]


def series_figure(results: list[tuple[str, dict[str, Any]]]) -> Any:
    """Support over training: pass@1 and pass@k_max, SRR/NDR/NSCR, cover@tau and answer entropy
    against the step. Series sharing a name (seeds of one recipe) are drawn as their mean with a
    band from the lowest to the highest seed."""
    import numpy as np

    plt = _plt()
    first = results[0][1]
    taus = first["taus"]
    panels = [
        ("pass", ["pass@1", f"pass@{first['k_max']}"], "pass@k"),
        ("support", ["SRR", "NDR", "NSCR"], f"vs the base, k = {first['support_k']}"),
        ("cover", [f"cover@{t:g}" for t in taus], "share of problems with c/n ≥ τ"),
        ("entropy", ["answer entropy"], "nats"),
    ]
    names = list(dict.fromkeys(name for name, _ in results))
    fig, axes = plt.subplots(2, 2, figsize=(9.6, 6.6), dpi=110)
    for ax, (panel, labels, ylabel) in zip(axes.flat, panels, strict=True):
        for i, name in enumerate(names):
            members = [r for n, r in results if n == name]
            steps = [row["step"] for row in members[0]["steps"]]
            if any([row["step"] for row in m["steps"]] != steps for m in members):
                raise LeashError(f"the series named {name!r} do not share their steps; name each seed apart")
            color = COLORS[i % len(COLORS)]
            for j, label in enumerate(labels):
                values = np.array(
                    [[np.nan if v is None else v for v in _series_values(m, panel, j)] for m in members]
                )
                if np.isnan(values).all():
                    continue
                legend = f"{name} {label}" if len(names) > 1 else label
                ax.plot(steps, np.nanmean(values, axis=0), color=color, linestyle=_STYLES[j % 4],
                        marker="o", markersize=3, label=legend)  # fmt: skip
                if len(members) > 1:
                    ax.fill_between(steps, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=color,
                                    alpha=0.12, linewidth=0)  # fmt: skip
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sweep_figure(
    ks: list[int], base: list[float | None], curves: dict[str, dict[str, list[float | None]]]
) -> Any:
    """`leash lab sweep`: the base's pass@k and every algorithm's mean pass@k across seeds against k
    (log2 axis), each with a band from its lowest to its highest seed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)

    def defined(values: list[float | None]) -> tuple[list[int], list[float]]:
        pts = [(k, v) for k, v in zip(ks, values, strict=True) if v is not None]
        return [k for k, _ in pts], [v for _, v in pts]

    xs, ys = defined(base)
    ax.plot(xs, ys, color="black", linestyle="--", marker="o", markersize=3, label="base")
    for i, (name, curve) in enumerate(curves.items()):
        color = COLORS[(i + 1) % len(COLORS)] if i + 1 < len(COLORS) else f"C{i}"
        xs, ys = defined(curve["mean"])
        ax.plot(xs, ys, color=color, marker="o", markersize=3, label=name)
        _, lo = defined(curve["min"])
        _, hi = defined(curve["max"])
        if len(xs) > 1 and len(lo) == len(xs) == len(hi):
            ax.fill_between(xs, lo, hi, color=color, alpha=0.12, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title("pass@k per algorithm: mean over seeds, band = lowest to highest seed", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def save(fig: Any, files: dict[str, bytes], name: str) -> bytes:
    """Put name.png and name.svg into `files` (written once the whole report rendered); return the PNG."""
    plt = _plt()
    for fmt in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt)
        files[f"{name}.{fmt}"] = buffer.getvalue()
    plt.close(fig)
    return files[f"{name}.png"]
