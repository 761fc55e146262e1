"""Validation reports: what each data rule found, in a JSON-able form.

:func:`modelyard.data.rules.evaluate` returns a :class:`ValidationReport` holding one
:class:`RuleResult` per rule, in rule order. ``RuleResult.on_fail`` is the action that
applies to that result (``error``, ``warn`` or ``quarantine``); a dataset-level rule
(``row_count``, ``schema``) configured as ``quarantine`` reports ``error``, because no
single row can be set aside to fix it.

For row-level rules ``failing_count`` counts rows and ``failing_percent`` is their share
of ``num_rows`` (0-100). Dataset-level rules always report ``failing_count == 0``; what
is wrong is in ``message`` and ``samples`` (one line per problem).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from modelyard.exceptions import DataQualityError, ValidationError

__all__ = ["RuleResult", "ValidationReport", "format_percent", "json_safe"]

ACTIONS = ("error", "warn", "quarantine")
"""What may happen when a rule fails, in order of severity (most severe first)."""


def format_percent(percent: float) -> str:
    """A percentage for people: ``0.24%``, ``<0.01%`` for tiny non-zero shares.

    Args:
        percent: A share in 0-100.

    Returns:
        The share with two decimals and a ``%`` sign.
    """
    if 0 < percent < 0.01:
        return "<0.01%"
    return f"{percent:.2f}%"


def json_safe(value: Any) -> Any:
    """Turn a value read from the data into something ``json.dumps`` accepts.

    Dates and times become ISO strings, decimals and UUIDs strings, bytes
    ``base64:``-prefixed strings, NaN and infinities the strings ``NaN``/``inf``/``-inf``
    (strict JSON has no such numbers); lists, tuples and mappings are converted item
    by item, anything else unknown becomes ``str(value)``.

    Args:
        value: Any value DuckDB returned.

    Returns:
        A JSON-able value.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value).replace("nan", "NaN")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return str(value)


@dataclass
class RuleResult:
    """The outcome of one rule on one dataset.

    Attributes:
        rule: The rule's name (``not_null(customer_id)`` unless it was named).
        kind: The rule kind (``not_null``, ``unique``, ``in_range``, ...).
        columns: The columns the rule looks at (empty for ``row_count``, ``sql``).
        passed: True when no row (or nothing, for dataset-level rules) failed.
        failing_count: Rows that failed (0 for dataset-level rules).
        failing_percent: ``failing_count`` as a share of all rows, 0-100.
        samples: A few failing values (single-column rules), failing rows as dicts
            (``sql``, multi-column ``unique``), row locations ``{"file", "row"}``
            (``not_null``), or problem descriptions (dataset-level rules).
        on_fail: The action that applies when the rule fails.
        message: One line for people, e.g. ``12 rows (0.24%) outside [18, 110]``.
        error: Why the rule could not be evaluated (then ``passed`` is False).
    """

    rule: str
    kind: str
    columns: list[str]
    passed: bool
    failing_count: int = 0
    failing_percent: float = 0.0
    samples: list[Any] = field(default_factory=list)
    on_fail: str = "error"
    message: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-able mapping (samples made JSON-safe)."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "columns": list(self.columns),
            "passed": self.passed,
            "failing_count": self.failing_count,
            "failing_percent": self.failing_percent,
            "samples": json_safe(self.samples),
            "on_fail": self.on_fail,
            "message": self.message,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleResult:
        """Rebuild a result from :meth:`to_dict` output.

        Raises:
            ValidationError: A required field is missing or ``on_fail`` is unknown.
        """
        try:
            result = cls(
                rule=str(data["rule"]),
                kind=str(data["kind"]),
                columns=[str(c) for c in data.get("columns", [])],
                passed=bool(data["passed"]),
                failing_count=int(data.get("failing_count", 0)),
                failing_percent=float(data.get("failing_percent", 0.0)),
                samples=list(data.get("samples", [])),
                on_fail=str(data.get("on_fail", "error")),
                message=str(data.get("message", "")),
                error=None if data.get("error") is None else str(data["error"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"malformed rule result {dict(data)!r}: {exc!r}; expected the output of "
                "RuleResult.to_dict()"
            ) from exc
        if result.on_fail not in ACTIONS:
            raise ValidationError(
                f"rule result {result.rule!r} has on_fail {result.on_fail!r}; "
                f"expected one of: {', '.join(ACTIONS)}"
            )
        return result

    def line(self) -> str:
        """One summary line: ``FAIL [error] not_null(a): 3 rows (0.30%) are null``."""
        status = "ok  " if self.passed else "FAIL"
        detail = f"error: {self.error}" if self.error else self.message
        return f"{status} [{self.on_fail}] {self.rule}: {detail}"


@dataclass
class ValidationReport:
    """Every rule's result for one dataset version, in rule order.

    Attributes:
        results: One :class:`RuleResult` per rule.
        num_rows: Rows in the dataset.
        duration_s: Seconds the evaluation took.
    """

    results: list[RuleResult]
    num_rows: int
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every rule passed (warnings included)."""
        return all(result.passed for result in self.results)

    def failed_with(self, action: str) -> list[RuleResult]:
        """The failed results whose action is ``action``.

        Args:
            action: ``error``, ``warn`` or ``quarantine``.

        Raises:
            ValidationError: ``action`` is not one of those.
        """
        if action not in ACTIONS:
            raise ValidationError(
                f"unknown on_fail action {action!r}; expected one of: {', '.join(ACTIONS)}"
            )
        return [r for r in self.results if not r.passed and r.on_fail == action]

    def raise_for_errors(self) -> None:
        """Raise if a rule whose action is ``error`` failed.

        Raises:
            DataQualityError: Carrying this report; the message names the failed rules.
        """
        failed = self.failed_with("error")
        if failed:
            lines = "\n  ".join(result.line() for result in failed)
            raise DataQualityError(
                f"{len(failed)} data validation rule(s) failed with on_fail=error:\n  {lines}\n"
                "fix the data, or relax the rules (on_fail: warn or quarantine)",
                report=self,
                failed_rules=[result.rule for result in failed],
            )

    def summary(self) -> str:
        """A few lines for people: the verdict, then one line per rule."""
        failed = sum(not result.passed for result in self.results)
        head = (
            f"{len(self.results)} rules passed"
            if not failed
            else f"{failed} of {len(self.results)} rules failed"
        )
        lines = [f"{head} ({self.num_rows:,} rows, {self.duration_s:.2f}s)"]
        lines.extend("  " + result.line() for result in self.results)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-able mapping."""
        return {
            "passed": self.passed,
            "num_rows": self.num_rows,
            "duration_s": self.duration_s,
            "results": [result.to_dict() for result in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        """Rebuild a report from :meth:`to_dict` output (``passed`` is recomputed).

        Raises:
            ValidationError: The mapping is not a report.
        """
        results = data.get("results") if isinstance(data, Mapping) else None
        if not isinstance(results, list) or not all(isinstance(r, Mapping) for r in results):
            raise ValidationError(
                "malformed validation report: expected a mapping with a 'results' list "
                "of rule results, as written by ValidationReport.to_dict()"
            )
        try:
            num_rows = int(data.get("num_rows", 0))
            duration_s = float(data.get("duration_s", 0.0))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"malformed validation report: {exc}") from exc
        return cls([RuleResult.from_dict(r) for r in results], num_rows, duration_s)
