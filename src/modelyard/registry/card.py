"""The model card: one self-contained HTML page and the same content as Markdown.

:func:`render_card` turns a :class:`~modelyard.registry.entities.ModelVersion`
(its lineage, evaluation, gates and packaging) into a :class:`ModelCard` with the
sections in :data:`CARD_SECTIONS`; charts are inline SVG drawn with matplotlib.
:func:`write_card` saves it atomically as ``.html``/``.htm`` or ``.md``::

    card = render_card(version, intended_use="Rank accounts by churn risk.")
    write_card(card, "churn-3.html")

The HTML loads nothing from anywhere (no scripts, fonts or URLs); the Markdown
embeds its charts as ``data:`` images, so both open offline.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.exceptions import ValidationError
from modelyard.registry import _card_sections as ev
from modelyard.registry import _card_version_sections as vs
from modelyard.registry._card_doc import (
    Block,
    Bullets,
    Document,
    Header,
    Inline,
    Mark,
    Paragraph,
    Section,
    Span,
    Subheading,
    fmt,
    fmt_time,
)
from modelyard.registry._card_html import render_html
from modelyard.registry._card_limits import automatic_limitations
from modelyard.registry._card_markdown import render_markdown
from modelyard.registry.entities import ModelVersion

__all__ = ["CARD_SECTIONS", "CARD_SUFFIXES", "ModelCard", "render_card", "write_card"]

CARD_SECTIONS = (
    "Intended use",
    "Training data",
    "Metrics",
    "Performance charts",
    "Fairness",
    "Explanations",
    "Data checks",
    "Gates",
    "Packaging",
    "Lineage",
    "Limitations",
)
CARD_SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown"}


@dataclass(frozen=True)
class ModelCard:
    """A rendered model card.

    Attributes:
        ref: The version it describes (``"churn@3"``).
        html: A standalone HTML page (inline CSS and SVG charts, no external URLs).
        markdown: The same sections as Markdown, charts as ``data:`` SVG images.
    """

    ref: str
    html: str
    markdown: str


def render_card(
    version: ModelVersion,
    *,
    dataset: Mapping[str, Any] | None = None,
    intended_use: str | None = None,
    limitations: Sequence[str] = (),
) -> ModelCard:
    """Render the model card of ``version``.

    Args:
        version: The model version; its ``evaluation`` and ``gates`` may be ``None``
            (the card then says how to produce them).
        dataset: The training dataset version: ``ref``, ``rows``, ``columns``,
            ``content_hash`` and ``profile`` (one mapping per column with ``name``,
            ``type``, ``nulls``, ``distinct``, ``min``, ``max``, ``mean``), or ``None``.
        intended_use: What the model is for and who should use it; blank lines
            separate paragraphs.
        limitations: Known limitations stated by the authors; the card adds the
            ones it finds (warnings, leakage, drift, missing formats, small holdout).

    Returns:
        The card, as HTML and as Markdown.

    Raises:
        ValidationError: An argument has the wrong type (a string for
            ``limitations``, a non-mapping ``dataset``, evaluation or gates).
    """
    _check_inputs(version, dataset, intended_use, limitations)
    evaluation, ref = version.evaluation, version.ref
    sections = (
        _intended_use_section(version, intended_use),
        vs.data_section(version, dataset),
        ev.metrics_section(evaluation, version.metrics, ref),
        ev.performance_section(evaluation, version.task, ref),
        ev.fairness_section(evaluation, ref),
        ev.explanations_section(evaluation, ref),
        ev.checks_section(evaluation, ref),
        vs.gates_section(version.gates),
        vs.packaging_section(version),
        vs.lineage_section(version),
        _limitations_section(version, limitations),
    )
    document = Document(_header(version), sections)
    return ModelCard(
        ref=ref,
        html=_valid_text(render_html(document)),
        markdown=_valid_text(render_markdown(document)),
    )


def write_card(card: ModelCard, path: str | os.PathLike[str]) -> Path:
    """Write ``card`` to ``path`` as HTML (``.html``/``.htm``) or Markdown (``.md``).

    The file is written to a temporary name beside ``path`` and renamed over it,
    so readers see the old file or the complete new one, never a partial write.

    Returns:
        The path written.

    Raises:
        ValidationError: The suffix is not one of :data:`CARD_SUFFIXES`, or the
            file cannot be written (missing folder, no permission, bad text).
    """
    target = Path(path)
    kind = CARD_SUFFIXES.get(target.suffix.lower())
    if kind is None:
        valid = ", ".join(CARD_SUFFIXES)
        raise ValidationError(
            f"cannot tell the card format from {str(target)!r}: the suffix must be one of "
            f"{valid} (HTML or Markdown); rename the output file",
            path=str(target),
        )
    text = card.html if kind == "html" else card.markdown
    try:
        _write_atomic(target, text)
    except (OSError, UnicodeError) as exc:
        raise ValidationError(
            f"cannot write the model card to {str(target)!r}: {exc}; check that the folder "
            "exists and is writable",
            path=str(target),
        ) from exc
    return target


def _write_atomic(target: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _header(version: ModelVersion) -> Header:
    gates = version.gates or {}
    badge, mark = _badge(version.gates)
    facts: tuple[tuple[str, Inline], ...] = (
        ("Aliases", ", ".join(version.aliases) or "none"),
        ("Status", version.status),
        ("Task", version.task),
        ("Created", fmt_time(version.created_at)),
        ("Created by", fmt(version.created_by)),
        ("Run", Span(version.run_id)),
        ("Gates checked", fmt_time(gates.get("checked_at")) if gates else "never"),
    )
    return Header(f"Model card: {version.ref}", badge, mark, facts, version.description)


def _badge(gates: Mapping[str, Any] | None) -> tuple[str, Mark]:
    if not gates:
        return "gates not checked", ""
    if gates.get("forced"):
        return "promoted by force", "warn"
    return ("gates passed", "good") if gates.get("passed") is True else ("gates failed", "bad")


def _intended_use_section(version: ModelVersion, intended_use: str | None) -> Section:
    blocks = [Paragraph((p.strip(),)) for p in (intended_use or "").split("\n\n") if p.strip()]
    if not blocks:
        hint = "Not stated. Pass ", Span("intended_use="), " when rendering the card."
        blocks = [Paragraph(hint)]
    output = version.signature.get("output") if isinstance(version.signature, Mapping) else None
    classes = output.get("classes") if isinstance(output, Mapping) else None
    target = version.lineage.get("target") or (output or {}).get("name") or "the target"
    text = f"Predicts {target} ({version.task}"
    text += f"; classes: {fmt(classes)})." if classes else ")."
    return Section("Intended use", (*blocks, Paragraph((text,))))


def _limitations_section(version: ModelVersion, stated: Sequence[str]) -> Section:
    found = automatic_limitations(version)
    blocks: list[Block] = []
    if stated:
        blocks += [Subheading("Stated"), Bullets(tuple((s,) for s in stated))]
    if found:
        blocks += [Subheading("Found automatically"), Bullets(tuple((s,) for s in found))]
    if not blocks:
        blocks = [Paragraph(("None stated or found; that does not mean there are none.",))]
    return Section("Limitations", tuple(blocks))


def _check_inputs(version: Any, dataset: Any, intended_use: Any, limitations: Any) -> None:
    if not isinstance(version, ModelVersion):
        raise ValidationError(f"render_card needs a ModelVersion, got {type(version).__name__}")
    for name, value in (
        ("evaluation", version.evaluation),
        ("gates", version.gates),
        ("dataset", dataset),
    ):
        if value is not None and not isinstance(value, Mapping):
            raise ValidationError(
                f"{name} must be a mapping or None, got {type(value).__name__}; pass the stored JSON document",
                field=name,
            )
    if intended_use is not None and not isinstance(intended_use, str):
        raise ValidationError(f"intended_use must be a string, got {type(intended_use).__name__}")
    if isinstance(limitations, str) or not all(isinstance(s, str) for s in limitations):
        raise ValidationError(
            "limitations must be a sequence of strings (one per limitation), e.g. "
            "['Trained on EU customers only']",
            field="limitations",
        )


def _valid_text(text: str) -> str:
    """Replace lone surrogates (possible in JSON-decoded strings) so the text encodes as UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")
