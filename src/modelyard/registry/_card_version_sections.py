"""The card sections drawn from the version record itself: training data, gates,
packaging and lineage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.registry._card_doc import (
    Block,
    Facts,
    Mark,
    Paragraph,
    Section,
    Span,
    Subheading,
    Table,
    fmt,
    fmt_bytes,
    fmt_time,
)
from modelyard.registry.entities import ModelVersion

__all__ = ["data_section", "gates_section", "lineage_section", "packaging_section"]

MAX_COLUMNS = 50
PROFILE_KEYS = ("name", "type", "nulls", "distinct", "min", "max", "mean")


def data_section(version: ModelVersion, dataset: Mapping[str, Any] | None) -> Section:
    """The training dataset (reference, size, hash, profile) and the model's inputs."""
    lineage = version.lineage
    evaluation = version.evaluation or {}
    data = dataset or {}
    facts = (
        ("Dataset", str(data.get("ref") or lineage.get("data") or "—")),
        ("Rows", fmt(data.get("rows"))),
        ("Columns", fmt(data.get("columns"))),
        ("Content hash", Span(str(data.get("content_hash") or lineage.get("dataset_hash") or "—"))),
        ("Split", fmt(lineage.get("split"))),
        (
            "Target",
            str(
                lineage.get("target")
                or _mapping(version.signature.get("output")).get("name")
                or "—"
            ),
        ),
        ("Holdout rows evaluated", fmt(evaluation.get("rows"))),
    )
    blocks: list[Block] = [Facts(facts)]
    profile = [p for p in data.get("profile") or [] if isinstance(p, Mapping)]
    if profile:
        blocks += [Subheading("Profile"), _rows_table(PROFILE_KEYS, profile)]
    elif dataset is None:
        blocks.append(Paragraph(("The dataset's size and profile were not provided to the card.",)))
    inputs = [c for c in version.signature.get("inputs") or [] if isinstance(c, Mapping)]
    if inputs:
        blocks += [Subheading("Model inputs"), _inputs_table(inputs)]
    return Section("Training data", tuple(blocks))


def gates_section(gates: Mapping[str, Any] | None) -> Section:
    """Each promotion gate with its result, measured value, threshold and reason."""
    if not gates:
        return Section(
            "Gates", (Paragraph(("No promotion gates have been checked for this version.",)),)
        )
    passed = gates.get("passed") is True
    facts = (
        ("Result", Span("passed" if passed else "failed", "strong")),
        ("Checked", fmt_time(gates.get("checked_at"))),
        ("Forced", fmt(bool(gates.get("forced")))),
    )
    blocks: list[Block] = [Facts(facts)]
    if gates.get("forced"):
        reason = gates.get("reason") or "no reason given"
        blocks.append(Paragraph((Span("Promoted by force", "strong"), f": {reason}")))
    results = [r for r in gates.get("results") or [] if isinstance(r, Mapping)]
    rows = tuple(
        (
            str(r.get("gate")),
            str(r.get("kind") or "—"),
            "PASS" if r.get("passed") is True else "FAIL",
            fmt(r.get("measured")),
            fmt(r.get("threshold")),
            str(r.get("reason") or "—"),
        )
        for r in results
    )
    marks: tuple[Mark, ...] = tuple("good" if r.get("passed") is True else "bad" for r in results)
    header = ("Gate", "Kind", "Result", "Measured", "Threshold", "Reason")
    blocks.append(Table(header, rows, marks, None if rows else "No gate results recorded."))
    return Section("Gates", tuple(blocks))


def packaging_section(version: ModelVersion) -> Section:
    """Each packaged format: size, ONNX parity, latency, quantization, or why it is missing."""
    rows: list[tuple[str, ...]] = []
    marks: list[Mark] = []
    for name, raw in version.formats.items():
        entry = _mapping(raw)
        unavailable = entry.get("unavailable")
        quant = [
            f"{k.replace('_', ' ')} {fmt(entry[k])}"
            for k in ("accuracy_delta", "speedup")
            if k in entry
        ]
        rows.append(
            (
                str(name),
                f"unavailable: {unavailable}" if unavailable else "available",
                fmt_bytes(entry.get("size")),
                fmt(entry.get("parity")),
                _latency(entry.get("latency")),
                ", ".join(quant) or "—",
            )
        )
        marks.append("warn" if unavailable else "")
    header = ("Format", "Status", "Size", "Parity", "Latency", "Quantization")
    note = None if rows else "The model has not been packaged."
    facts = Facts((("Model size", fmt_bytes(version.size_bytes)),))
    return Section("Packaging", (facts, Table(header, tuple(rows), tuple(marks), note)))


def lineage_section(version: ModelVersion) -> Section:
    """Where the version came from: run, data, split, family, parameters, code, libraries."""
    lineage = version.lineage
    facts = (
        ("Run", Span(str(lineage.get("run_id") or version.run_id))),
        ("Experiment", fmt(lineage.get("experiment"))),
        ("Data", str(lineage.get("data") or "—")),
        ("Dataset hash", Span(str(lineage.get("dataset_hash") or "—"))),
        ("Split", fmt(lineage.get("split"))),
        ("Target", fmt(lineage.get("target"))),
        ("Family", fmt(lineage.get("family"))),
        ("Git commit", Span(str(lineage.get("git_commit") or "not recorded"))),
        ("Created by", fmt(version.created_by)),
    )
    blocks: list[Block] = [Facts(facts)]
    params = _mapping(lineage.get("params"))
    if params:
        rows = tuple((str(k), fmt(v)) for k, v in params.items())
        blocks += [Subheading("Parameters"), Table(("Parameter", "Value"), rows)]
    libraries = _mapping(lineage.get("libraries"))
    if libraries:
        rows = tuple((str(k), fmt(v)) for k, v in libraries.items())
        blocks += [Subheading("Libraries"), Table(("Library", "Version"), rows)]
    return Section("Lineage", tuple(blocks))


def _rows_table(keys: tuple[str, ...], entries: list[Mapping[str, Any]]) -> Table:
    shown = entries[:MAX_COLUMNS]
    rows = tuple(tuple(fmt(e.get(k)) for k in keys) for e in shown)
    note = f"Showing {len(shown)} of {len(entries)} columns." if len(entries) > len(shown) else None
    return Table(tuple(k.capitalize() for k in keys), rows, (), note)


def _inputs_table(inputs: list[Mapping[str, Any]]) -> Table:
    rows = []
    for column in inputs[:MAX_COLUMNS]:
        levels = column.get("levels")
        if isinstance(levels, list):
            seen = f"{len(levels)} levels"
        elif column.get("levels_truncated"):
            seen = "too many levels to list"
        else:
            seen = f"{fmt(column.get('min'))} … {fmt(column.get('max'))}"
        used = "yes" if column.get("used", True) is not False else "no (excluded)"
        rows.append(
            (str(column.get("name")), fmt(column.get("kind")), fmt(column.get("dtype")), used, seen)
        )
    note = f"Showing {len(rows)} of {len(inputs)} inputs." if len(inputs) > len(rows) else None
    return Table(("Input", "Kind", "Type", "Used", "Seen in training"), tuple(rows), (), note)


def _latency(latency: Any) -> str:
    if not isinstance(latency, Mapping):
        return fmt(latency)
    parts = [
        f"{str(k).removesuffix('_ms').replace('_', ' ')} {fmt(v)} ms" for k, v in latency.items()
    ]
    return ", ".join(parts) or "—"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
