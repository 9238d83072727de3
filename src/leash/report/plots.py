"""The report's figures, drawn with matplotlib (static PNG and SVG, no JavaScript).

Each function returns a matplotlib Figure; `save` writes it as PNG and SVG and
returns the PNG bytes for inlining.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from leash.errors import LeashError

__all__ = ["pass_at_k_figure", "region_bars_figure", "regions_by_k_figure", "save"]

COLORS = ["#1f4e79", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085"]
REGION_COLORS = {"P": "#4c72b0", "S": "#c44e52", "E": "#55a868", "O": "#8c8c8c"}


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise LeashError("leash report draws with matplotlib: pip install 'leash[report]'") from err

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curve(ax: Any, block: dict[str, Any], side: str, label: str, color: str) -> None:
    ks, values = block["k"], block[side]
    pts = [(k, v, b) for k, v, b in zip(ks, values, block[f"{side}_band"], strict=True) if v is not None]
    if not pts:
        return
    xs = [p[0] for p in pts]
    ax.plot(xs, [p[1] for p in pts], marker="o", markersize=3, color=color, label=label)
    if len(pts) > 1:
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
    _curve(ax, first["pass_at_k"], "base", "base", COLORS[0])
    for i, (name, result) in enumerate(results):
        block = result if dataset is None else result["by_dataset"][dataset]
        _curve(ax, block["pass_at_k"], "tuned", name, COLORS[(i + 1) % len(COLORS)])
        crossing = block["pass_at_k"].get("crossover_k")
        if crossing is not None:
            ax.axvline(crossing, color=COLORS[(i + 1) % len(COLORS)], linestyle=":", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def region_bars_figure(results: list[tuple[str, dict[str, Any]]]) -> Any:
    """Stacked P/S/E/O counts per tuned run, problem and answer grain side by side."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 0.9 + 0.7 * len(results) * 2), dpi=110)
    labels, rows = [], []
    for name, result in results:
        for grain in ("problem", "answer"):
            block = result["support"].get(grain)
            if block is not None:
                labels.append(f"{name} · {grain}")
                rows.append([block[r] for r in "PSEO"])
    for y, counts in enumerate(rows):
        left = 0.0
        for region, value in zip("PSEO", counts, strict=True):
            ax.barh(y, value, left=left, color=REGION_COLORS[region], label=region if y == 0 else None)
            left += value
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("problems (answer grain: distinct correct answers)")
    ax.legend(ncol=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
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


def save(fig: Any, out_dir: Path, name: str) -> bytes:
    """Write name.png and name.svg; return the PNG bytes."""
    plt = _plt()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    (out_dir / f"{name}.png").write_bytes(png)
    fig.savefig(out_dir / f"{name}.svg", format="svg")
    plt.close(fig)
    return png
