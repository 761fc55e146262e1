"""Checking promotion gates: :func:`check_gates` measures each :class:`Gate` against a context.

The registry fills a :class:`~modelyard.evaluation.gates.GateContext` (the stored
evaluation, training metrics, the baselines' metrics, latency and size per package
format); :func:`check_gates` returns one :class:`~modelyard.evaluation.gates.GateResult`
per gate, each with the measured value and the reason, and a failure never stops the
others. Metric names are checked here, as the valid ones depend on the task. An absent
ONNX package falls back to the format that would serve (skops, then pickle). The gate
types and their grammar live in :mod:`modelyard.evaluation.gates`.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelyard.evaluation.gates import (
    LATENCY_STATS,
    MEASURES,
    Gate,
    GateContext,
    GateResult,
    finite_or_none,
    gate_kinds,
    plain_number,
    unknown_error,
)
from modelyard.exceptions import ModelyardError
from modelyard.training import METRICS, metric_names

__all__ = ["check_gates"]

_HOLDS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}
_FAILS = {
    ">=": "is below",
    "<=": "is above",
    ">": "is not above",
    "<": "is not below",
    "==": "is not equal to",
}
_FALLBACKS = ("skops", "pickle", "joblib")  # what serves when no ONNX package exists


def check_gates(gates: Sequence[Gate], context: GateContext) -> list[GateResult]:
    """Evaluate every gate (a failure never stops the others) against ``context``.

    Example::

        results = check_gates(parse_gates("- metric: roc_auc >= 0.8"), context)
        promote = all(r.passed for r in results)

    Raises:
        ValidationError: A gate names a metric that does not exist for ``context.task``
            (the message lists the valid ones); raised before any gate is evaluated.
    """
    for gate in gates:
        _check_known(gate, context)
    if context.fairness_for is not None:  # several gates may ask for one column
        context = dataclasses.replace(context, fairness_for=_memoize(context.fairness_for))
    return [_CHECKS[gate.kind](gate, context) for gate in gates]


def _check_known(gate: Gate, context: GateContext) -> None:
    where = f"gates[{gate.position}]"
    if gate.kind not in _CHECKS:
        raise unknown_error(where, "gate kind", gate.kind, gate_kinds())
    if gate.kind in MEASURES and gate.subject not in MEASURES[gate.kind]:
        raise unknown_error(where, f"{gate.kind} measure", gate.subject, MEASURES[gate.kind])
    if gate.kind not in ("metric", "no_regression"):
        return
    valid = metric_names(context.task)
    if gate.kind == "metric":  # an evaluation may report metrics beyond the training ones
        reported = ((context.evaluation or {}).get("metrics") or {}).keys()
        valid += [name for name in reported if name not in valid]
    if gate.subject not in valid:
        what = f"metric for a {context.task} task"
        raise unknown_error(where, what, gate.subject, valid or ["none"])


def _memoize(
    compute: Callable[[str], Mapping[str, Any] | None],
) -> Callable[[str], Mapping[str, Any] | None]:
    done: dict[str, Mapping[str, Any] | None] = {}

    def cached(column: str) -> Mapping[str, Any] | None:
        if column not in done:
            done[column] = compute(column)
        return done[column]

    return cached


def _result(gate: Gate, passed: bool, reason: str, measured: float | None = None) -> GateResult:
    return GateResult(gate.describe(), gate.kind, passed, measured, gate.threshold, reason)


def _compare(
    gate: Gate, measured: float, label: str, unit: str = "", note: str = "", extra: str = ""
) -> GateResult:
    """Apply the gate's condition to ``measured``; the reason shows both numbers."""
    op, threshold = gate.op or "<=", gate.threshold if gate.threshold is not None else 0.0
    passed = _HOLDS[op](measured, threshold)
    shown, limit = _pair(measured, threshold)
    verb = op if passed else _FAILS[op]
    reason = f"{note}{label} {shown}{unit} {verb} {limit}{unit}{extra}"
    return _result(gate, passed, reason, measured)


def _pair(a: float, b: float) -> tuple[str, str]:
    """Both numbers, with enough digits that different values never print the same."""
    for digits in (4, 6, 10):
        shown = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if shown[0] != shown[1] or a == b:
            return shown
    return repr(a), repr(b)


def _metric_value(name: str, context: GateContext) -> tuple[float | None, str | None]:
    """(value, where it came from); value None when undefined, where None when unmeasured."""
    reported = (context.evaluation or {}).get("metrics") or {}
    if name in reported:
        entry = reported[name]
        value = entry.get("value") if isinstance(entry, Mapping) else entry
        return finite_or_none(value), "evaluation"
    if name in context.metrics:
        return finite_or_none(context.metrics[name]), "training holdout"
    return None, None


def _evaluate_hint(context: GateContext, extra: str = "") -> str:
    return f"run `modelyard models evaluate {context.ref or 'NAME@VERSION'}{extra}`"


def _measured_metric(gate: Gate, context: GateContext) -> tuple[float, str] | GateResult:
    """The candidate's value of the metric and its source, or the failed result saying why not."""
    value, source = _metric_value(gate.subject, context)
    if source is None:
        reason = (
            f"{gate.subject} was not measured: neither the evaluation nor the training "
            f"holdout has it; {_evaluate_hint(context)}"
        )
        return _result(gate, False, reason)
    if value is None:
        return _result(gate, False, f"{gate.subject} is undefined (NaN or missing) in the {source}")
    return value, source


def _check_metric(gate: Gate, context: GateContext) -> GateResult:
    measured = _measured_metric(gate, context)
    if isinstance(measured, GateResult):
        return measured
    extra = "" if measured[1] == "evaluation" else " (from the training holdout)"
    return _compare(gate, measured[0], gate.subject, extra=extra)


def _check_no_regression(gate: Gate, context: GateContext) -> GateResult:
    name, vs, tolerance = gate.subject, gate.vs or "champion", gate.tolerance or 0.0
    measured = _measured_metric(gate, context)
    if isinstance(measured, GateResult):
        return measured
    value = measured[0]
    baseline = context.baselines.get(vs)
    if baseline is None:
        return _result(gate, True, f"no {vs} yet: nothing to regress from", value)
    base = finite_or_none(baseline.get(name))
    if base is None:
        reason = f"{vs} has no defined {name}: nothing to regress from"
        return _result(gate, True, reason, value)
    higher = METRICS[name].greater_is_better
    worse_by = base - value if higher else value - base
    limit = base - tolerance if higher else base + tolerance
    passed = worse_by <= tolerance + 1e-12  # 0.852 - 0.847 is not exactly 0.005
    old, new = _pair(base, value)
    direction = "" if higher else "; lower is better"
    if worse_by > 0:
        moved = "fell" if higher else "rose"
        side = "below" if higher else "above"
        within = "within " if passed else ""
        reason = (
            f"{name} {moved} {worse_by:.3g} {side} {vs} ({old} -> {new}{direction}), "
            f"{within}tolerance {plain_number(tolerance)}"
        )
    else:
        how = "matches" if worse_by == 0 else "improved on"
        reason = f"{name} {how} {vs} ({old} -> {new}{direction})"
    return GateResult(gate.describe(), gate.kind, passed, value, limit, reason)


def _fairness_document(column: str, context: GateContext) -> Mapping[str, Any] | str:
    """The fairness document for ``column``, or the reason there is none."""
    stored = (context.evaluation or {}).get("fairness")
    if isinstance(stored, Mapping) and stored.get("column") == column:
        return stored
    document = None
    if context.fairness_for is not None:
        try:
            document = context.fairness_for(column)
        except ModelyardError as exc:
            return f"fairness by {column!r} could not be computed: {exc}"
    if document is None:
        hint = _evaluate_hint(context, f" --sensitive {column}")
        return f"no evaluation for column {column}: {hint}"
    return document


def _check_fairness(gate: Gate, context: GateContext) -> GateResult:
    column = gate.column or ""
    document = _fairness_document(column, context)
    if isinstance(document, str):
        return _result(gate, False, document)
    value = finite_or_none(document.get(gate.subject))
    if value is None:
        reason = f"{gate.subject} by {column} is undefined (e.g. a group with no rows or one class)"
        return _result(gate, False, reason)
    return _compare(gate, value, f"{gate.subject} by {column}")


def _pick_format(wanted: str, measured: Mapping[str, Any], context: GateContext) -> tuple[str, str]:
    """(format to read, note); an absent ONNX package falls back to what would serve."""
    if wanted in measured or not wanted.startswith("onnx"):
        return wanted, ""
    for fallback in _FALLBACKS:
        if fallback in measured:
            why = context.unavailable.get(wanted, "no ONNX package was made for this version")
            return (
                fallback,
                f"{wanted} is unavailable ({why}); measured {fallback}, which would serve: ",
            )
    return wanted, ""


def _check_packaged(gate: Gate, context: GateContext) -> GateResult:
    wanted = gate.format or "onnx"
    table: Mapping[str, Any] = context.latency if gate.kind == "latency" else context.size_mb
    fmt, note = _pick_format(wanted, table, context)
    what = LATENCY_STATS[gate.subject][1] if gate.kind == "latency" else "size"
    if fmt not in table:
        measured = ", ".join(table) or "none"
        reason = f"{what} was not measured for format {wanted} (measured formats: {measured})"
        if wanted in context.unavailable:
            reason += f"; {wanted} is unavailable: {context.unavailable[wanted]}"
        return _result(gate, False, reason)
    entry = table[fmt]
    if gate.kind == "latency":
        value = finite_or_none(
            entry.get(LATENCY_STATS[gate.subject][0]) if isinstance(entry, Mapping) else None
        )
    else:
        value = finite_or_none(entry)
    if value is None:
        return _result(gate, False, f"{note}{fmt} {what} is missing or undefined")
    unit = " ms" if gate.kind == "latency" else " MB"
    return _compare(gate, value, f"{fmt} {what}", unit, note)


def _check_checks(gate: Gate, context: GateContext) -> GateResult:
    checks = (context.evaluation or {}).get("checks")
    key = "leakage" if gate.subject == "leakage" else "duplicates"
    if not isinstance(checks, Mapping) or checks.get(key) is None:
        return _result(gate, False, f"the evaluation has no {key} check: {_evaluate_hint(context)}")
    if gate.subject == "leakage":
        return _check_leakage(gate, checks["leakage"])
    duplicates = checks["duplicates"]
    value = finite_or_none(duplicates.get("fraction") if isinstance(duplicates, Mapping) else None)
    if value is None:
        return _result(gate, False, "the duplicates check has no fraction")
    shared, rows = duplicates.get("shared_rows"), duplicates.get("test_rows")
    extra = ""
    if isinstance(shared, int) and isinstance(rows, int):
        extra = f" ({shared:,} of {rows:,} test rows also in training)"
    return _compare(gate, value, "duplicates_fraction", extra=extra)


def _check_leakage(gate: Gate, entries: Any) -> GateResult:
    rows = [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []
    flagged = [e for e in rows if e.get("flagged")]
    if not flagged:
        return _result(gate, True, f"no leakage flagged ({len(rows)} features checked)", 0.0)
    scores = [finite_or_none(e.get("score")) for e in flagged[:5]]
    shown = ", ".join(
        f"{e.get('feature')} ({e.get('metric', 'score')} {math.nan if v is None else v:.3g})"
        for e, v in zip(flagged, scores, strict=False)
    )
    more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
    reason = f"leakage flagged for {len(flagged)} of {len(rows)} features: {shown}{more}"
    return _result(gate, False, reason, float(len(flagged)))


_CHECKS: dict[str, Callable[[Gate, GateContext], GateResult]] = {
    "metric": _check_metric,
    "no_regression": _check_no_regression,
    "fairness": _check_fairness,
    "latency": _check_packaged,
    "size": _check_packaged,
    "checks": _check_checks,
}
