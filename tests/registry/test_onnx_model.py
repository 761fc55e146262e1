"""OnnxModel and onnx_feeds: loading, the graph check, predictions and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.exceptions import IntegrityError, ModelyardError, ValidationError
from modelyard.registry.onnx_convert import convert_to_onnx
from modelyard.registry.onnx_model import EMPTY_LEVEL, OnnxModel, onnx_feeds
from tests.registry._onnx_samples import fitted, holdout


@pytest.fixture(scope="module")
def binary() -> tuple[Any, dict[str, Any], bytes]:
    model, signature = fitted("linear", "binary")
    return model, signature, convert_to_onnx(model, signature)


def test_predictions_have_the_documented_types(binary: tuple[Any, dict[str, Any], bytes]) -> None:
    model, signature, data = binary
    converted = OnnxModel(data, signature, intra_op_threads=1)
    rows = holdout()
    labels, proba = converted.predict(rows), converted.predict_proba(rows)
    assert labels.dtype == np.int64
    assert labels.shape == (len(rows),)
    assert proba.dtype == np.float64
    assert proba.shape == (len(rows), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, model.predict(rows))
    assert converted.input_names == [c["name"] for c in signature["inputs"]]
    assert converted.is_classifier
    raw = converted.run(onnx_feeds(rows, signature))
    assert list(raw) == ["label", "probabilities"]
    assert raw["probabilities"].dtype == np.float32


def test_a_regressor_predicts_floats_and_has_no_probabilities() -> None:
    model, signature = fitted("linear", "regression")
    converted = OnnxModel(convert_to_onnx(model, signature), signature)
    values = converted.predict(holdout("regression"))
    assert values.dtype == np.float64
    assert values.shape == (120,)
    assert not converted.is_classifier
    with pytest.raises(ValidationError, match="predict_proba needs a classifier"):
        converted.predict_proba(holdout("regression"))


def test_no_rows_give_empty_answers(binary: tuple[Any, dict[str, Any], bytes]) -> None:
    _, signature, data = binary
    converted = OnnxModel(data, signature)
    empty = holdout().iloc[:0]
    assert converted.predict(empty).shape == (0,)
    assert converted.predict_proba(empty).shape == (0, 2)


@pytest.mark.parametrize("garbage", [b"", b"garbage", bytes(range(256)) * 40])
def test_garbage_bytes_are_an_integrity_error(
    binary: tuple[Any, dict[str, Any], bytes], garbage: bytes
) -> None:
    _, signature, _ = binary
    with pytest.raises(IntegrityError, match="not an ONNX model onnxruntime can load") as caught:
        OnnxModel(garbage, signature)
    assert isinstance(caught.value, ModelyardError)
    assert caught.value.details["size"] == len(garbage)


def test_a_truncated_graph_is_an_integrity_error(
    binary: tuple[Any, dict[str, Any], bytes],
) -> None:
    _, signature, data = binary
    with pytest.raises(IntegrityError):
        OnnxModel(data[: len(data) // 2], signature)


def test_non_bytes_are_refused(binary: tuple[Any, dict[str, Any], bytes]) -> None:
    _, signature, _ = binary
    with pytest.raises(ValidationError, match="model_bytes must be bytes, got str"):
        OnnxModel("model.onnx", signature)  # type: ignore[arg-type]


def test_a_graph_that_does_not_match_the_signature_is_refused(
    binary: tuple[Any, dict[str, Any], bytes],
) -> None:
    _, signature, data = binary
    fewer = {**signature, "inputs": signature["inputs"][1:]}
    with pytest.raises(ValidationError, match="do not match the signature"):
        OnnxModel(data, fewer)
    as_regression = {**signature, "output": {"name": "y", "task": "regression"}}
    with pytest.raises(ValidationError, match="are not \\['variable'\\]"):
        OnnxModel(data, as_regression)


def test_bad_input_data_is_a_validation_error(binary: tuple[Any, dict[str, Any], bytes]) -> None:
    _, signature, data = binary
    converted = OnnxModel(data, signature)
    with pytest.raises(ValidationError, match="no column 'region'"):
        converted.predict(holdout().drop(columns="region"))
    with pytest.raises(ValidationError, match="pandas DataFrame or a pyarrow Table"):
        converted.predict([[1, 2, 3]])
    feeds = onnx_feeds(holdout(), signature)
    feeds["charges"] = feeds["charges"].astype(np.float32)
    with pytest.raises(ValidationError, match="onnxruntime could not run the model"):
        converted.run(feeds)
    del feeds["charges"]
    with pytest.raises(ValidationError, match="onnxruntime could not run the model"):
        converted.run(feeds)


def test_feeds_follow_the_convention(binary: tuple[Any, dict[str, Any], bytes]) -> None:
    _, signature, _ = binary
    rows = pd.DataFrame(
        {
            "charges": [1.5, None],
            "tenure": pd.array([3, None], dtype="Int64"),
            "region": ["north", None],
            "plan": pd.Series(["pro", ""], dtype="category"),
            "paperless": pd.array([True, None], dtype="boolean"),
            "senior": [False, True],
            "signup": pd.to_datetime(["1970-01-02", None]),
            "ignored": ["extra", "column"],
        }
    )
    feeds = onnx_feeds(rows, signature)
    assert list(feeds) == [c["name"] for c in signature["inputs"]]
    assert all(v.shape == (2, 1) for v in feeds.values())
    np.testing.assert_array_equal(feeds["charges"].ravel(), [1.5, np.nan])
    np.testing.assert_array_equal(feeds["tenure"].ravel(), [3.0, np.nan])
    assert feeds["region"].ravel().tolist() == ["north", ""]
    assert feeds["plan"].ravel().tolist() == ["pro", EMPTY_LEVEL]  # present "" is no gap
    np.testing.assert_array_equal(feeds["paperless"].ravel(), [1.0, np.nan])
    np.testing.assert_array_equal(feeds["senior"].ravel(), [0.0, 1.0])
    assert feeds["signup"].dtype == np.int64
    assert feeds["signup"].ravel().tolist() == [86_400 * 10**9, np.iinfo(np.int64).min]
