"""The model card as plain data: a header and sections of blocks, rendered twice.

The sections are built once (``card.py``, ``_card_sections.py``) from blocks
defined here, then written out as HTML (``_card_html.py``) and as Markdown
(``_card_markdown.py``), so both formats always carry the same content. Every
string in a block is plain text: the renderers escape it for their format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "Block",
    "Bullets",
    "Chart",
    "Document",
    "Facts",
    "Header",
    "Inline",
    "Mark",
    "Paragraph",
    "Section",
    "Span",
    "Subheading",
    "Table",
    "fmt",
    "fmt_bytes",
    "fmt_time",
    "percent",
    "slugify",
]

Mark = Literal["", "good", "bad", "warn"]


@dataclass(frozen=True)
class Span:
    """A run of text with a style: ``code`` (monospace) or ``strong``."""

    text: str
    kind: Literal["code", "strong"] = "code"


Inline = str | Span


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain and styled runs."""

    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Subheading:
    """A heading inside a section."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list; each item is a sequence of runs."""

    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Facts:
    """Label/value pairs (a definition list in HTML, a bulleted list in Markdown)."""

    items: tuple[tuple[str, Inline], ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells; ``marks`` highlights rows (one entry per row, or empty)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    marks: tuple[Mark, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Chart:
    """One chart: a caption and a standalone SVG document (no XML prolog)."""

    caption: str
    svg: str


Block = Paragraph | Subheading | Bullets | Facts | Table | Chart


@dataclass(frozen=True)
class Section:
    """A titled section of the card."""

    title: str
    blocks: tuple[Block, ...]

    @property
    def slug(self) -> str:
        """The anchor id of the section (``"training-data"``)."""
        return slugify(self.title)


@dataclass(frozen=True)
class Header:
    """The card's header: title, gate badge and the version's key facts."""

    title: str
    badge: str
    badge_mark: Mark
    facts: tuple[tuple[str, Inline], ...]
    description: str | None = None


@dataclass(frozen=True)
class Document:
    """A whole card: header plus sections in order."""

    header: Header
    sections: tuple[Section, ...] = field(default_factory=tuple)


def slugify(text: str) -> str:
    """Lower-case ``text`` with runs of non-alphanumerics turned into one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def fmt(value: Any) -> str:
    """Format a JSON value for a table cell: ``None`` and NaN read as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—" if math.isnan(value) else str(value)
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
            return f"{value:.3e}"
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items()) or "—"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(fmt(v) for v in value) or "—"
    return str(value)


def fmt_bytes(size: Any) -> str:
    """A byte count as ``"1.2 MB"``; anything that is not a number reads as a dash."""
    if not isinstance(size, int | float) or isinstance(size, bool):
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def fmt_time(ms: Any) -> str:
    """A millisecond Unix timestamp as ``"2024-05-01 12:00 UTC"``."""
    if not isinstance(ms, int | float) or isinstance(ms, bool) or not math.isfinite(ms):
        return "—"
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return str(ms)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def percent(fraction: Any) -> str:
    """A fraction as a percentage (``0.0123`` -> ``"1.23%"``); non-numbers read as a dash."""
    if not isinstance(fraction, int | float) or isinstance(fraction, bool):
        return "—"
    if not math.isfinite(fraction):
        return "—"
    return f"{fraction * 100:.3g}%"
