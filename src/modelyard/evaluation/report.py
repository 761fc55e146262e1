"""The result of an evaluation: one JSON-able record stored on the model version.

:class:`Evaluation` holds plain JSON values (dicts, lists, strings, numbers,
``None``), so the model card, the promotion gates and the web UI read the same
structure that :meth:`Evaluation.to_dict` writes. Undefined numbers (a metric on
a slice with one class, a rate with no denominator) are ``None``, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from modelyard.exceptions import ValidationError

__all__ = ["Evaluation", "jsonable"]

_REQUIRED = ("task", "rows", "metrics")


def jsonable(value: Any) -> Any:
    """``value`` with numpy types made plain and NaN/inf replaced by None.

    Args:
        value: Nested dicts, lists, tuples, numpy arrays and scalars.

    Returns:
        The same structure made of dicts, lists, str, int, float, bool and None.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass
class Evaluation:
    """How a model did on its holdout rows, and what the data checks found.

    Every field holds plain JSON values; :meth:`to_dict` gives the stored shape::

        task, rows, labels                 str, int, [str] | None (classification)
        metrics    {name: {"value", "ci_low", "ci_high"}}     bootstrap 95% interval
        bootstrap  {"resamples", "rows", "level", "method"}
        confusion_matrix  {"labels", "matrix"}                 classification
        roc        {"fpr", "tpr", "auc"}; multiclass {"per_class": {label: ...}, "auc"}
        pr         {"precision", "recall", "average_precision"}          binary
        calibration {"prob_pred", "prob_true", "count", "brier"}         binary
        residuals  {"mean", "std", "mae", "p5", "p50", "p95", "max_abs",
                    "histogram": {"edges", "counts"}, "sample": {"actual", "predicted"}}
        slices     {column: [{"value", "rows", "metrics": {name: value}}]}
        fairness   {"column", "groups": [...], "demographic_parity_difference",
                    "equalized_odds_difference"} (+ "positive"; "note" for regression)
        importance [{"feature", "mean", "std"}], importance_rows
        partial_dependence [{"feature", "kind", "values", "average", "rows"}]
        shap       {"features", "mean_abs", "rows", "output", "total_features"}
                   or {"unavailable": reason}
        checks     {"leakage": [{"feature", "score", "metric", "flagged"}],
                    "duplicates": {"shared_rows", "test_rows", "fraction"} | None,
                    "shift": [{"feature", "test", "statistic", "p_value", "effect",
                               "drifted"}], "note"?: why a check did not run}
        warnings   [str]

    Sections that do not apply to the task are None (or empty).
    """

    task: str
    rows: int
    labels: list[str] | None
    metrics: dict[str, dict[str, float | None]]
    bootstrap: dict[str, Any] = field(default_factory=dict)
    confusion_matrix: dict[str, Any] | None = None
    roc: dict[str, Any] | None = None
    pr: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    residuals: dict[str, Any] | None = None
    slices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fairness: dict[str, Any] | None = None
    importance: list[dict[str, Any]] = field(default_factory=list)
    importance_rows: int = 0
    partial_dependence: list[dict[str, Any]] = field(default_factory=list)
    shap: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def metric(self, name: str) -> float | None:
        """The holdout value of metric ``name`` (None when undefined).

        Raises:
            ValidationError: The evaluation has no such metric (the message lists them).
        """
        if name not in self.metrics:
            raise ValidationError(
                f"the evaluation has no metric {name!r}; it has: {', '.join(self.metrics)}",
                metric=name,
            )
        return self.metrics[name]["value"]

    def to_dict(self) -> dict[str, Any]:
        """The evaluation as a JSON-able dict (no NaN: undefined numbers are None)."""
        doc: dict[str, Any] = jsonable({f.name: getattr(self, f.name) for f in fields(self)})
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Evaluation:
        """Rebuild an evaluation from :meth:`to_dict` output.

        Keys this version does not know are ignored, so newer records still load;
        missing optional keys take their empty defaults.

        Raises:
            ValidationError: Not a mapping, or ``task``, ``rows`` or ``metrics`` is missing.
        """
        if not isinstance(doc, Mapping):
            raise ValidationError(
                f"an evaluation record must be a mapping, not {type(doc).__name__}"
            )
        missing = [key for key in _REQUIRED if key not in doc]
        if missing:
            raise ValidationError(
                f"the evaluation record lacks {', '.join(missing)}; it needs at least "
                f"{', '.join(_REQUIRED)} (write it with Evaluation.to_dict)",
                missing=missing,
            )
        known = {f.name for f in fields(cls)}
        values = jsonable({k: v for k, v in doc.items() if k in known})
        values.setdefault("labels", None)
        return cls(**values)
