"""The parity check: does the ONNX package give the native model's numbers?

Run at registration on a holdout sample. Classifiers compare probabilities with an
absolute tolerance of 1e-4 and the labels wherever the native top probability is not
a near-tie (within 2e-4 of the runner-up, where float rounding may pick either class).
Regressors compare predictions with a relative tolerance of 1e-5 against
``max(1, |native|)``, so predictions near zero are held to an absolute 1e-5 instead of
an ever tighter relative bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.registry.onnx_model import OnnxModel

__all__ = ["PROBA_TOLERANCE", "REGRESSION_TOLERANCE", "Parity", "check_parity"]

PROBA_TOLERANCE = 1e-4
REGRESSION_TOLERANCE = 1e-5
_NEAR_TIE = 2 * PROBA_TOLERANCE
_PROBA_RULE = f"abs {PROBA_TOLERANCE:g} on probabilities; labels equal unless a near-tie"
_REGRESSION_RULE = f"|native - onnx| <= {REGRESSION_TOLERANCE:g} * max(1, |native|)"


@dataclass(frozen=True)
class Parity:
    """The outcome of a parity check.

    Attributes:
        ok: The ONNX outputs are within tolerance on every row.
        rows: Rows compared.
        max_abs_diff: Largest absolute difference (probabilities or predictions);
            ``inf`` when the outputs cannot be compared (shapes differ, ONNX failed).
        tolerance: The rule applied, in words.
        reason: Why the check failed (None when ok).
    """

    ok: bool
    rows: int
    max_abs_diff: float
    tolerance: str
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping for the version's formats entry (no difference: None)."""
        out = asdict(self)
        if not math.isfinite(self.max_abs_diff):
            out["max_abs_diff"] = None
        return out


def _first_rows(bad: NDArray[np.bool_], limit: int = 5) -> str:
    rows = np.flatnonzero(bad)
    shown = ", ".join(str(int(i)) for i in rows[:limit])
    return f"{len(rows)} row(s) (first: {shown})"


def _max_abs(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    diff = np.abs(a - b)
    both_nan = np.isnan(a) & np.isnan(b)
    diff[both_nan] = 0.0
    return float(np.max(diff, initial=0.0)) if not np.isnan(diff).any() else float("inf")


def _onnx_outputs(onnx: OnnxModel, sample: pd.DataFrame, task: str) -> tuple[Any, Any] | str:
    """ONNX (values, labels), or why the model could not run on the sample."""
    try:
        if task == "regression":
            return onnx.predict(sample), None
        return onnx.predict_proba(sample), onnx.predict(sample)
    except ModelyardError as exc:
        return f"the ONNX model failed on the sample: {exc}"


def _classification(native: Any, onnx: tuple[Any, Any], sample: pd.DataFrame) -> Parity:
    a = np.asarray(native.predict_proba(sample), dtype=np.float64)
    b, onnx_labels = onnx
    n = len(sample)
    if a.shape != b.shape:
        reason = f"ONNX gives probabilities of shape {b.shape}, the native model {a.shape}"
        return Parity(False, n, float("inf"), _PROBA_RULE, reason)
    worst = _max_abs(a, b)
    off = ~(np.abs(a - b) <= PROBA_TOLERANCE) & ~(np.isnan(a) & np.isnan(b))
    if off.any():
        bad = off.any(axis=1)
        reason = (
            f"probabilities differ by up to {worst:.3g} (> {PROBA_TOLERANCE:g}) "
            f"on {_first_rows(bad)}"
        )
        return Parity(False, n, worst, _PROBA_RULE, reason)
    ranked = np.sort(a, axis=1)
    clear = (ranked[:, -1] - ranked[:, -2]) > _NEAR_TIE if a.shape[1] > 1 else np.ones(n, bool)
    native_labels = np.asarray(native.predict(sample)).ravel()
    differ = np.asarray(native_labels != onnx_labels, dtype=bool) & clear
    if differ.any():
        reason = f"labels differ on {_first_rows(differ)} whose probabilities agree"
        return Parity(False, n, worst, _PROBA_RULE, reason)
    return Parity(True, n, worst, _PROBA_RULE, None)


def _regression(native: Any, onnx: tuple[Any, Any], sample: pd.DataFrame) -> Parity:
    a = np.asarray(native.predict(sample), dtype=np.float64).ravel()
    b = onnx[0]
    n = len(sample)
    if a.shape != b.shape:
        reason = f"ONNX gives {b.shape[0]} prediction(s), the native model {a.shape[0]}"
        return Parity(False, n, float("inf"), _REGRESSION_RULE, reason)
    worst = _max_abs(a, b)
    allowed = REGRESSION_TOLERANCE * np.maximum(1.0, np.abs(a))
    off = ~(np.abs(a - b) <= allowed) & ~(np.isnan(a) & np.isnan(b))
    if off.any():
        rel = float(np.max(np.abs(a - b)[off] / np.maximum(1.0, np.abs(a[off]))))
        reason = (
            f"predictions differ by up to {rel:.3g} relative (> {REGRESSION_TOLERANCE:g}) "
            f"on {_first_rows(off)}"
        )
        return Parity(False, n, worst, _REGRESSION_RULE, reason)
    return Parity(True, n, worst, _REGRESSION_RULE, None)


def check_parity(native: Any, onnx: OnnxModel, sample: pd.DataFrame, task: str) -> Parity:
    """Compare the native model and its ONNX package on ``sample``.

    Args:
        native: The fitted model (``predict``, and ``predict_proba`` for classifiers).
        onnx: The converted model.
        sample: Holdout rows (features; extra columns are ignored).
        task: ``binary``, ``multiclass`` or ``regression``.

    Returns:
        The outcome; ``ok`` is False with a ``reason`` when the ONNX package would serve
        other numbers or cannot run on the sample.

    Raises:
        ValidationError: An unknown task or a sample that is not a DataFrame.

    Example:
        >>> parity = check_parity(result.model, OnnxModel(data, sig), holdout, "binary")
        >>> parity.ok, parity.max_abs_diff
        (True, 3.1e-08)
    """
    if task not in ("binary", "multiclass", "regression"):
        raise ValidationError(f"task must be binary, multiclass or regression, got {task!r}")
    if not isinstance(sample, pd.DataFrame):
        raise ValidationError(f"sample must be a pandas DataFrame, got {type(sample).__name__}")
    rule = _REGRESSION_RULE if task == "regression" else _PROBA_RULE
    if len(sample) == 0:
        return Parity(False, 0, 0.0, rule, "no sample rows to compare")
    outputs = _onnx_outputs(onnx, sample, task)
    if isinstance(outputs, str):
        return Parity(False, len(sample), float("inf"), rule, outputs)
    if task == "regression":
        return _regression(native, outputs, sample)
    return _classification(native, outputs, sample)
