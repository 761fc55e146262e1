"""check_parity: passes within tolerance, fails with a reason otherwise."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.exceptions import ValidationError
from modelyard.registry.onnx_model import OnnxModel
from modelyard.registry.parity import (
    PROBA_TOLERANCE,
    REGRESSION_TOLERANCE,
    Parity,
    check_parity,
)
from tests.registry._onnx_samples import fit_pipeline, fitted, holdout, onnx_of


class Shifted:
    """A native model whose outputs are moved by a set amount (a stand-in for drift)."""

    def __init__(self, model: Any, proba: float = 0.0, value: Any = 0.0, flip: Any = None):
        self.model, self.proba, self.value, self.flip = model, proba, value, flip

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.model.predict_proba(X).copy()
        p[:, 0] -= self.proba
        p[:, 1] += self.proba
        return p

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        out = np.asarray(self.model.predict(X)).copy()
        if self.flip is not None:
            out[self.flip] = 1 - out[self.flip]
            return out
        return out + self.value(out) if callable(self.value) else out + self.value


@pytest.fixture(scope="module")
def binary() -> tuple[Any, OnnxModel]:
    model, signature = fitted("linear", "binary")
    return model, onnx_of(model, signature)


@pytest.fixture(scope="module")
def regression() -> tuple[Any, OnnxModel]:
    model, signature = fitted("linear", "regression")
    return model, onnx_of(model, signature)


def test_a_faithful_package_passes(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    parity = check_parity(model, converted, holdout(), "binary")
    assert parity.ok
    assert parity.reason is None
    assert parity.rows == 120
    assert 0.0 <= parity.max_abs_diff < 1e-6
    assert "1e-04" in parity.tolerance or "0.0001" in parity.tolerance


def test_another_model_fails_with_a_reason(binary: tuple[Any, OnnxModel]) -> None:
    _, converted = binary
    other, _ = fit_pipeline("lightgbm", params={"n_estimators": 5})
    parity = check_parity(other, converted, holdout(), "binary")
    assert not parity.ok
    assert parity.max_abs_diff > PROBA_TOLERANCE
    assert parity.reason is not None
    assert parity.reason.startswith("probabilities differ by up to")
    assert "row(s) (first: " in parity.reason


def test_the_probability_tolerance_is_absolute_1e4(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    assert check_parity(Shifted(model, proba=0.9e-4), converted, holdout(), "binary").ok
    failed = check_parity(Shifted(model, proba=1.2e-4), converted, holdout(), "binary")
    assert not failed.ok
    assert failed.max_abs_diff == pytest.approx(1.2e-4, rel=0.01)


def _tie_row(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """A row whose two probabilities are within 1e-6 (bisection on its charges)."""
    for i in range(len(rows)):
        row = rows.iloc[[i]].copy()

        def gap(charges: float, row: pd.DataFrame = row) -> float:
            row["charges"] = charges
            return float(np.diff(model.predict_proba(row)[0])[0])

        low, high = 0.0, 5000.0
        if gap(low) * gap(high) > 0:
            continue
        for _ in range(45):
            mid = (low + high) / 2
            low, high = (mid, high) if gap(mid) * gap(low) > 0 else (low, mid)
        row["charges"] = low
        return row
    raise AssertionError("no row crosses p = 0.5")


def test_labels_must_agree_except_on_near_ties(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    rows = holdout()
    margin = np.abs(np.diff(model.predict_proba(rows), axis=1)).ravel()
    clear = int(np.argmax(margin))
    failed = check_parity(Shifted(model, flip=[clear]), converted, rows, "binary")
    assert not failed.ok
    assert failed.reason == f"labels differ on 1 row(s) (first: {clear}) whose probabilities agree"
    tie = _tie_row(model, rows)
    assert np.abs(np.diff(model.predict_proba(tie))) < 1e-6
    assert check_parity(Shifted(model, flip=[0]), converted, tie, "binary").ok


def test_the_regression_tolerance_is_relative(regression: tuple[Any, OnnxModel]) -> None:
    model, converted = regression
    rows = holdout("regression")

    def within(v: np.ndarray) -> np.ndarray:
        return 0.9 * REGRESSION_TOLERANCE * np.maximum(1.0, np.abs(v))

    def beyond(v: np.ndarray) -> np.ndarray:
        return 1.5 * REGRESSION_TOLERANCE * np.maximum(1.0, np.abs(v))

    assert check_parity(model, converted, rows, "regression").ok
    assert check_parity(Shifted(model, value=within), converted, rows, "regression").ok
    failed = check_parity(Shifted(model, value=beyond), converted, rows, "regression")
    assert not failed.ok
    assert failed.reason is not None
    assert "relative (> 1e-05)" in failed.reason
    assert "max(1, |native|)" in failed.tolerance
    other, _ = fitted("extra_trees", "regression")
    assert not check_parity(other, converted, rows, "regression").ok


def test_no_rows_is_not_a_pass(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    parity = check_parity(model, converted, holdout().iloc[:0], "binary")
    assert not parity.ok
    assert parity.rows == 0
    assert parity.reason == "no sample rows to compare"


def test_a_package_that_cannot_run_on_the_sample_fails(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    rows = holdout()
    rows["signup"] = pd.to_datetime(["2999-01-01"] * len(rows))  # past int64 nanoseconds
    parity = check_parity(model, converted, rows, "binary")
    assert not parity.ok
    assert parity.max_abs_diff == float("inf")
    assert parity.reason is not None
    assert parity.reason.startswith("the ONNX model failed")
    assert parity.to_dict()["max_abs_diff"] is None
    json.dumps(parity.to_dict(), allow_nan=False)


def test_a_different_class_count_fails(binary: tuple[Any, OnnxModel]) -> None:
    _, converted = binary
    three, _ = fitted("linear", "multiclass")
    parity = check_parity(three, converted, holdout(), "binary")
    assert not parity.ok
    assert parity.reason is not None
    assert "shape" in parity.reason


def test_to_dict_is_plain_json(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    stored = check_parity(model, converted, holdout(), "binary").to_dict()
    assert set(stored) == {"ok", "rows", "max_abs_diff", "tolerance", "reason"}
    assert json.loads(json.dumps(stored, allow_nan=False)) == stored
    assert Parity(**stored) == check_parity(model, converted, holdout(), "binary")


def test_bad_arguments_are_refused(binary: tuple[Any, OnnxModel]) -> None:
    model, converted = binary
    with pytest.raises(ValidationError, match="task must be binary, multiclass or regression"):
        check_parity(model, converted, holdout(), "ranking")
    with pytest.raises(ValidationError, match="sample must be a pandas DataFrame"):
        check_parity(model, converted, holdout().to_numpy(), "binary")
