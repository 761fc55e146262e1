"""The model card's charts: matplotlib figures rendered to small standalone SVG.

Figures are built with :class:`matplotlib.figure.Figure` directly, never pyplot,
so no global figure state is touched and cards can be rendered from several
threads. Each builder takes one part of the evaluation document and returns a
:class:`Chart`, or ``None`` when the part holds nothing drawable. Long curves are
thinned to :data:`MAX_POINTS` points and bar charts keep the top :data:`MAX_BARS`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.registry._card_doc import Chart

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COLORS",
    "MAX_BARS",
    "MAX_LABEL",
    "MAX_POINTS",
    "floats",
    "label",
    "new_figure",
    "number",
    "render_svg",
    "scope_ids",
    "style_axes",
    "thin",
    "to_chart",
]

MAX_POINTS = 200
MAX_BARS = 20
MAX_LABEL = 40
COLORS = ("#2f6db5", "#d9822b", "#3a9a5b", "#c23b3b", "#7d5ba6", "#8c6d31", "#e377c2", "#7f7f7f")

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ID = re.compile(r'\sid="([^"]*)"')
_REF = re.compile(r'(href="#|url\(#)([^"\)]*)')
_INDENT = re.compile(r"\n\s+")


def floats(values: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``values`` as a float array; ``None`` and anything not numeric become NaN."""
    if not isinstance(values, Sequence) or isinstance(values, str):
        return np.empty(0)
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[i] = float(value)
    return out


def label(text: Any) -> str:
    """A user string made safe for a matplotlib label: short, one line, no mathtext."""
    plain = " ".join(str(text).split())
    if len(plain) > MAX_LABEL:
        plain = plain[: MAX_LABEL - 1] + "…"
    return plain.replace("$", r"\$")


def thin(*columns: np.ndarray[Any, Any], limit: int = MAX_POINTS) -> list[np.ndarray[Any, Any]]:
    """Keep at most ``limit`` evenly spaced rows of equal-length arrays (ends included)."""
    size = min((len(c) for c in columns), default=0)
    if size <= limit:
        return [c[:size] for c in columns]
    keep = np.unique(np.linspace(0, size - 1, limit).round().astype(int))
    return [c[keep] for c in columns]


def new_figure(width: float = 5.2, height: float = 3.4) -> tuple[Figure, Axes]:
    """A figure with one axes, styled for the card."""
    from matplotlib.figure import Figure  # matplotlib loads when a card is drawn

    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    style_axes(ax)
    return fig, ax


def style_axes(ax: Axes) -> None:
    """Light grid, no top/right spines, small ticks."""
    ax.grid(True, color="#e3e3e3", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def render_svg(fig: Figure) -> str:
    """Render ``fig`` to a compact standalone SVG document (no prolog, no metadata)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    svg = _COMMENT.sub("", _METADATA.sub("", svg, count=1))
    return _INDENT.sub("\n", svg).strip()


def scope_ids(svg: str, prefix: str) -> str:
    """Rename the ids ``svg`` refers to as ``prefix`` + a number; drop unused ids.

    Several SVGs inlined in one HTML page share one id space, so each chart gets
    its own prefix; numbering in order of appearance also makes output repeatable.
    """
    used = {m.group(2) for m in _REF.finditer(svg)}
    names: dict[str, str] = {}

    def rename_id(match: re.Match[str]) -> str:
        old = match.group(1)
        if old not in used:
            return ""
        names.setdefault(old, f"{prefix}{len(names) + 1}")
        return f' id="{names[old]}"'

    svg = _ID.sub(rename_id, svg)
    return _REF.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), svg)


def to_chart(fig: Figure, caption: str) -> Chart:
    """Render ``fig`` and pair it with its caption."""
    return Chart(caption=caption, svg=render_svg(fig))


def number(value: Any) -> float:
    """``value`` as a float, NaN when it is not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan
