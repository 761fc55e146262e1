"""Evaluation: how a model does on its holdout, whether it is fair, why it predicts, and gates.

Owns :func:`evaluate` (``api``) and its result :class:`Evaluation` (``report``;
stored on the model version, read by the model card and the promotion gates),
built from:

- ``scoring``: predictions and the metric suite (:data:`modelyard.training.METRICS`).
- ``bootstrap``: 95% intervals for every metric.
- ``classification`` / ``regression``: confusion matrix, ROC and PR curves,
  calibration and Brier score; residual summary.
- ``groups`` / ``slices`` / ``fairness``: per-slice metrics; per-group selection
  rate, TPR and FPR, demographic parity and equalized odds differences (fairlearn).
- ``explain`` / ``shapley``: permutation importance and partial dependence on the
  raw columns; SHAP values for tree models (the optional ``explain`` extra).
- ``leakage`` / ``checks``: single-feature leakage, rows shared by train and
  holdout, per-feature train/holdout shift.
- ``inputs``: checking the arguments before any compute.
- ``gates`` / ``gate_checks``: promotion gates (thresholds, no regression against the
  champion): their types and parsing; checking them against a version's measurements.

It sits in layer L3 and uses :mod:`modelyard.training` (metrics) from the same layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._utils.lazy import lazy_exports

if TYPE_CHECKING:
    from modelyard.evaluation.api import evaluate
    from modelyard.evaluation.gate_checks import check_gates
    from modelyard.evaluation.gates import Gate, GateContext, GateResult, gate_kinds, parse_gates
    from modelyard.evaluation.report import Evaluation

__all__ = [
    "Evaluation",
    "Gate",
    "GateContext",
    "GateResult",
    "check_gates",
    "evaluate",
    "gate_kinds",
    "parse_gates",
]

# Each name's module, imported on first use (see modelyard._utils.lazy).
_EXPORTS = {
    "evaluate": "modelyard.evaluation.api",
    "check_gates": "modelyard.evaluation.gate_checks",
    "Gate": "modelyard.evaluation.gates",
    "GateContext": "modelyard.evaluation.gates",
    "GateResult": "modelyard.evaluation.gates",
    "gate_kinds": "modelyard.evaluation.gates",
    "parse_gates": "modelyard.evaluation.gates",
    "Evaluation": "modelyard.evaluation.report",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
