"""Promotion gates: declarative conditions a version must meet to become ``champion``.

Gates are written in YAML (or given as mappings)::

    gates:
      - metric: roc_auc >= 0.80
      - no_regression: {vs: champion, metric: roc_auc, tolerance: 0.005}
      - fairness: {column: region, demographic_parity_difference: <= 0.10}
      - latency: {p99_ms: <= 5, format: onnx}
      - size: {mb: <= 50}
      - checks: {leakage: false, duplicates_fraction: <= 0.01}

This module owns the gate types and their grammar: :class:`Gate`, the
:class:`GateContext` gates are checked against, the :class:`GateResult` of one check,
:func:`gate_kinds` and :func:`parse_gates`. :func:`parse_gates` checks the shape; every
error names the gate (``gates[2]``), the bad value and the valid choices. A list item
that names several measures (``latency: {p50_ms: <= 2, p99_ms: <= 5}``) becomes one
:class:`Gate` per measure. Checking lives in :mod:`modelyard.evaluation.gate_checks`
(:func:`~modelyard.evaluation.gate_checks.check_gates`); ``MEASURES``,
``LATENCY_STATS``, :func:`finite_or_none`, :func:`plain_number` and
:func:`unknown_error` are shared with it and not exported.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard._utils.yaml_source import load_yaml_source
from modelyard.exceptions import ValidationError

__all__ = ["Gate", "GateContext", "GateResult", "gate_kinds", "parse_gates"]

_OPERATORS = (">=", "<=", ">", "<", "==")  # the order error messages list them in
_UPPER_BOUNDS = ("<=", "<")
_FORMATS = ("onnx", "onnx-int8", "skops", "pickle", "joblib")
LATENCY_STATS = {
    "p50_ms": ("single_p50_ms", "single-row p50 latency"),
    "p99_ms": ("single_p99_ms", "single-row p99 latency"),
    "batch_p50_ms": ("batch_p50_ms", "batch p50 latency"),
    "batch_p99_ms": ("batch_p99_ms", "batch p99 latency"),
}
_FAIRNESS = ("demographic_parity_difference", "equalized_odds_difference")
MEASURES = {  # kind -> the measures it bounds; a gate item may name several
    "fairness": _FAIRNESS,
    "latency": tuple(LATENCY_STATS),
    "size": ("mb",),
    "checks": ("leakage", "duplicates_fraction"),
}
_OPTIONS = {"fairness": ("column",), "latency": ("format",), "size": ("format",), "checks": ()}
_CONDITION = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(?P<op>[<>=!]+)\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class Gate:
    """One parsed gate: what it measures (``subject``) and the condition it must meet.

    ``subject`` is the metric name (``metric``, ``no_regression``), the fairness
    measure, the latency key (``p99_ms``), ``mb`` (``size``), or ``leakage`` /
    ``duplicates_fraction`` (``checks``). ``position`` is the item's index in the
    gate list, used in messages; it takes no part in equality.
    """

    kind: str
    subject: str
    op: str | None = None
    threshold: float | None = None
    vs: str | None = None
    tolerance: float | None = None
    column: str | None = None
    format: str | None = None
    position: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """``{kind: fields}`` in the YAML shape; :func:`parse_gates` reads it back unchanged."""
        bound = f"{self.op} {plain_number(self.threshold)}" if self.threshold is not None else None
        if self.kind == "metric":
            return {"metric": f"{self.subject} {bound}"}
        if self.kind == "no_regression":
            fields = {"vs": self.vs, "metric": self.subject, "tolerance": self.tolerance}
            return {self.kind: fields}
        value = False if self.subject == "leakage" else bound
        spec = {"column": self.column, self.subject: value, "format": self.format}
        return {self.kind: {k: v for k, v in spec.items() if v is not None}}

    def describe(self) -> str:
        """A one-line summary, e.g. ``"roc_auc >= 0.8"``."""
        bound = f"{self.op} {plain_number(self.threshold)}" if self.threshold is not None else ""
        if self.kind == "metric":
            return f"{self.subject} {bound}"
        if self.kind == "no_regression":
            tolerance = plain_number(self.tolerance or 0.0)
            return f"no regression in {self.subject} vs {self.vs} (tolerance {tolerance})"
        if self.kind == "fairness":
            return f"{self.subject} by {self.column} {bound}"
        if self.kind == "latency":
            return f"{LATENCY_STATS[self.subject][1]} ({self.format}) {bound} ms"
        if self.kind == "size":
            return f"size ({self.format}) {bound} MB"
        return "no leakage flagged" if self.subject == "leakage" else f"{self.subject} {bound}"


@dataclass(frozen=True)
class GateContext:
    """Everything the gates of one model version are checked against (filled by the registry).

    Attributes:
        task: ``binary``, ``multiclass`` or ``regression``.
        evaluation: The stored evaluation document (``metrics``, ``fairness``, ``checks``).
        metrics: Holdout metrics recorded at training; used when the evaluation lacks one.
        baselines: Alias -> that version's metrics, or None when the alias does not exist.
        latency: Format -> ``single_p50_ms``, ``single_p99_ms``, ``batch_p50_ms``, ``batch_p99_ms``.
        size_mb: Format -> package size in MB.
        fairness_for: Computes the fairness document for a column the evaluation lacks.
        unavailable: Format -> why it was not packaged (shown when a gate falls back).
        ref: ``name@version``, for the commands that messages suggest.
    """

    task: str
    evaluation: Mapping[str, Any] | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    baselines: Mapping[str, Mapping[str, float] | None] = field(default_factory=dict)
    latency: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    size_mb: Mapping[str, float] = field(default_factory=dict)
    fairness_for: Callable[[str], Mapping[str, Any] | None] | None = None
    unavailable: Mapping[str, str] = field(default_factory=dict)
    ref: str | None = None


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate: passed or not, the measured value and why."""

    gate: str
    kind: str
    passed: bool
    measured: float | None
    threshold: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping (NaN and infinities become None)."""
        return {
            "gate": self.gate,
            "kind": self.kind,
            "passed": self.passed,
            "measured": finite_or_none(self.measured),
            "threshold": finite_or_none(self.threshold),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        """Read back what :meth:`to_dict` wrote.

        Raises:
            ValidationError: A field is missing or of the wrong type.
        """
        try:
            gate, kind, passed, reason = (data[k] for k in ("gate", "kind", "passed", "reason"))
            measured, threshold = data.get("measured"), data.get("threshold")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValidationError(
                "a stored gate result must be a mapping with gate, kind, passed, reason, "
                f"measured and threshold; got {data!r:.200}"
            ) from exc
        numbers_ok = all(v is None or finite_or_none(v) is not None for v in (measured, threshold))
        if not isinstance(passed, bool) or not numbers_ok:
            raise ValidationError(
                "a stored gate result needs passed: true/false and numbers or null for "
                f"measured and threshold; got {data!r:.200}"
            )
        measured, threshold = finite_or_none(measured), finite_or_none(threshold)
        return cls(str(gate), str(kind), passed, measured, threshold, str(reason))


# --- parsing -------------------------------------------------------------------------------


def gate_kinds() -> list[str]:
    """Every gate kind :func:`parse_gates` accepts."""
    return ["metric", "no_regression", *MEASURES]


def parse_gates(source: str | Path | Mapping[str, Any] | Sequence[Any]) -> list[Gate]:
    """Parse gates from YAML text, a YAML file, ``{"gates": [...]}`` or a list of gate mappings.

    An empty list is valid and means "no gates".

    Example::

        parse_gates("gates:\\n  - metric: roc_auc >= 0.8\\n")[0].describe()  # 'roc_auc >= 0.8'

    Raises:
        ValidationError: The YAML does not parse (with the line), the mapping has no
            ``gates`` key, or a gate is malformed (the message names ``gates[i]``).
        NotFoundError: ``source`` names a file that does not exist.
    """
    gates: list[Gate] = []
    for position, item in enumerate(_gate_items(source)):
        gates.extend(_parse_item(item, f"gates[{position}]", position))
    return gates


def _gate_items(source: str | Path | Mapping[str, Any] | Sequence[Any]) -> Sequence[Any]:
    doc: Any = load_yaml_source(source, "gates") if isinstance(source, str | Path) else source
    if isinstance(doc, Mapping):
        if "gates" not in doc:
            keys = ", ".join(repr(k) for k in list(doc)[:10]) or "none"
            raise ValidationError(
                f"the gates mapping has no 'gates' key (keys: {keys}); "
                "write `gates: [...]` with one item per gate, or `gates: []` for none"
            )
        doc = doc["gates"]
    if doc is None:
        raise ValidationError("the gates are empty (null); write `gates: []` for no gates")
    if isinstance(doc, str | bytes) or not isinstance(doc, Sequence):
        raise ValidationError(
            f"gates must be a list (one item per gate, like `- metric: roc_auc >= 0.8`), "
            f"not {type(doc).__name__}"
        )
    return doc


def _parse_item(item: Any, where: str, position: int) -> list[Gate]:
    if not isinstance(item, Mapping) or len(item) != 1:
        shown = ", ".join(map(str, item)) if isinstance(item, Mapping) else repr(item)[:80]
        raise _bad(
            where,
            "each gate is a mapping with one key, the gate kind (like `- metric: roc_auc >= 0.8`); "
            f"got {shown or 'an empty mapping'} (indent a gate's fields under its kind)",
        )
    ((kind, body),) = item.items()
    if kind == "metric":
        return [_parse_metric(body, where, position)]
    if kind == "no_regression":
        return [_parse_no_regression(body, where, position)]
    if kind in MEASURES:
        return _parse_bounded(kind, body, where, position)
    raise unknown_error(where, "gate kind", kind, gate_kinds())


def _parse_metric(body: Any, where: str, position: int) -> Gate:
    match = _CONDITION.match(body) if isinstance(body, str) else None
    if match is None:
        raise _bad(
            where,
            f"a metric gate is a condition like 'roc_auc >= 0.8' (a metric name, one of "
            f"{', '.join(_OPERATORS)}, a number), not {body!r:.80}",
        )
    op = _operator(match["op"], where, body)
    threshold = _number(match["value"], where, f"the threshold in {body!r:.80}")
    return Gate("metric", match["name"], op, threshold, position=position)


def _parse_no_regression(body: Any, where: str, position: int) -> Gate:
    if isinstance(body, str):  # shorthand: `- no_regression: roc_auc`
        body = {"metric": body}
    fields = _fields(body, where, "no_regression", ("metric", "vs", "tolerance"))
    if "metric" not in fields:
        raise _bad(where, "no_regression needs a metric (e.g. {metric: roc_auc})")
    metric = _name(fields["metric"], where, "no_regression.metric")
    vs = _name(fields.get("vs", "champion"), where, "no_regression.vs")
    tolerance = _number(fields.get("tolerance", 0.0), where, "no_regression.tolerance")
    if tolerance < 0:
        raise _bad(where, f"no_regression.tolerance must be >= 0, not {tolerance:g}")
    return Gate("no_regression", metric, vs=vs, tolerance=tolerance, position=position)


def _parse_bounded(kind: str, body: Any, where: str, position: int) -> list[Gate]:
    """fairness, latency, size, checks: one gate per measure named, each an upper bound."""
    measures = MEASURES[kind]
    fields = _fields(body, where, kind, (*_OPTIONS[kind], *measures))
    found = [m for m in measures if m in fields]
    if not found:
        raise _bad(where, f"{kind} needs one of {', '.join(measures)}")
    column = None
    if kind == "fairness":
        if "column" not in fields:
            raise _bad(where, "fairness needs column: the sensitive column whose groups to compare")
        column = _name(fields["column"], where, "fairness.column")
    fmt = fields.get("format", "onnx") if "format" in _OPTIONS[kind] else None
    if fmt is not None and fmt not in _FORMATS:
        raise unknown_error(where, f"{kind}.format", fmt, _FORMATS)
    gates = []
    for measure in found:
        if measure != "leakage":
            bound = _bound(fields[measure], where, f"{kind}.{measure}")
        elif fields[measure] is False:  # "no feature flagged": at most 0 of them
            bound = ("<=", 0.0)
        else:
            raise _bad(
                where,
                "checks.leakage must be false (no feature may be flagged as leaking the "
                f"target), not {fields[measure]!r:.80}",
            )
        gates.append(Gate(kind, measure, *bound, column=column, format=fmt, position=position))
    return gates


def _bad(where: str, message: str, **details: Any) -> ValidationError:
    return ValidationError(f"{where}: {message}", gate=where, **details)


def unknown_error(where: str, what: str, value: Any, choices: Sequence[str]) -> ValidationError:
    """The error for an unknown ``value`` at ``where``: the valid ``choices`` and a close match."""
    close: list[str] = []
    if isinstance(value, str):
        close = difflib.get_close_matches(value, choices, n=1)
        close = close or [c for c in choices if len(value) > 1 and c.startswith(value)][:1]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"unknown {what} {value!r:.80}{hint} (valid: {', '.join(choices)})"
    return _bad(where, message, value=str(value)[:80])


def _fields(body: Any, where: str, kind: str, valid: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _bad(where, f"{kind} takes a mapping of {', '.join(valid)}, not {body!r:.80}")
    for key in body:
        if key not in valid:
            raise unknown_error(where, f"key in {kind}", key, valid)
    return body


def _name(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(where, f"{what} must be a non-empty name, not {value!r:.80}")
    return value.strip()


def _operator(op: str, where: str, text: str) -> str:
    if op not in _OPERATORS:
        valid = ", ".join(_OPERATORS)
        raise _bad(where, f"unknown operator {op!r} in {text!r:.80} (valid: {valid})")
    return op


def _number(value: Any, where: str, what: str) -> float:
    number = math.nan
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if not math.isfinite(number):
        raise _bad(
            where, f"{what} must be a finite number, not {value!r:.80}", value=str(value)[:80]
        )
    return number


def _bound(value: Any, where: str, what: str) -> tuple[str, float]:
    """An upper bound: ``<= x``, ``< x``, or a bare number (meaning ``<=``), with x >= 0."""
    op = "<="
    if isinstance(value, str):
        text = value.strip()
        rest = text.lstrip("<>=!")
        op = _operator(text[: len(text) - len(rest)] or "<=", where, value)
        if op not in _UPPER_BOUNDS:
            raise _bad(where, f"{what} takes an upper bound ('<= x' or '< x'), not {op!r}")
        value = rest.strip()
    number = _number(value, where, what)
    if number < 0:
        raise _bad(where, f"{what} must be >= 0, not {number:g}")
    return op, number


def plain_number(value: float) -> str:
    """The shortest text that reads back as the same float (``0.8``, not ``0.8000``)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number, or NaN/infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
