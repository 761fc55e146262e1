"""ServedModel: ONNX and native runtimes agree with the registry's own predictors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.registry.onnx_model import EMPTY_LEVEL
from modelyard.serving.codec import feeds_from_records
from modelyard.serving.runtime import Prediction, ServedModel, load_served_model
from tests.serving.conftest import ServedHome


@pytest.fixture(scope="module")
def onnx_model(served_home: ServedHome) -> ServedModel:
    return load_served_model(served_home.registry, "churn@1", intra_op_threads=2)


@pytest.fixture(scope="module")
def native_model(served_home: ServedHome) -> ServedModel:
    return load_served_model(served_home.registry, "churn@2")


@pytest.fixture(scope="module")
def regressor(served_home: ServedHome) -> ServedModel:
    return load_served_model(served_home.registry, "charges@1")


def test_onnx_version_is_served_by_onnx_runtime(onnx_model: ServedModel) -> None:
    assert (onnx_model.name, onnx_model.version, onnx_model.ref) == ("churn", 1, "churn@1")
    assert onnx_model.format == "onnx"
    assert onnx_model.task == "binary"
    assert onnx_model.classes == [0, 1]
    assert onnx_model.is_classifier
    assert onnx_model.runtime_note.startswith("onnx runtime (onnx): parity-checked")


def test_version_without_onnx_says_why_it_runs_natively(native_model: ServedModel) -> None:
    assert native_model.format == "skops"
    assert native_model.runtime_note == (
        "native runtime (skops): onnx unavailable: not built: registered with onnx=False"
    )


@pytest.mark.parametrize("ref", ["churn@1", "churn@2"])
def test_classifier_matches_registry_predictor(served_home: ServedHome, ref: str) -> None:
    model = load_served_model(served_home.registry, ref)
    prediction = model.infer(feeds_from_records(served_home.records(ref), model.signature))
    predictor = served_home.registry.load(ref)
    frame = served_home.inputs(ref)
    assert prediction.rows == len(frame)
    assert prediction.values is None
    assert prediction.probabilities is not None
    assert prediction.codes is not None
    np.testing.assert_allclose(prediction.probabilities, predictor.predict_proba(frame), atol=1e-5)
    labels = np.asarray(model.classes, dtype=object)[prediction.codes]
    assert labels.tolist() == predictor.predict(frame).tolist()


def test_regressor_matches_registry_predictor(
    served_home: ServedHome, regressor: ServedModel
) -> None:
    assert regressor.classes is None
    assert regressor.task == "regression"
    prediction = regressor.infer(
        feeds_from_records(served_home.records("charges@1"), regressor.signature)
    )
    assert prediction.codes is None
    assert prediction.probabilities is None
    assert prediction.values is not None
    assert prediction.values.dtype == np.float64
    expected = served_home.registry.load("charges@1").predict(served_home.inputs("charges@1"))
    np.testing.assert_allclose(prediction.values, expected, atol=1e-5)


def test_native_and_onnx_agree_on_missing_and_empty_values(
    served_home: ServedHome, onnx_model: ServedModel, native_model: ServedModel
) -> None:
    records = served_home.records("churn@1", rows=4)
    records[0].update(region=None, age=None, paperless_billing=None, signup_at=None)
    records[1].update(plan="", contract="never-seen", monthly_charges=None)
    records[2].update(payment_method=EMPTY_LEVEL, paperless_billing=0)
    feeds = feeds_from_records(records, onnx_model.signature)
    via_onnx = onnx_model.infer(feeds)
    via_native = native_model.infer(feeds)
    assert via_onnx.probabilities is not None
    assert via_native.probabilities is not None
    np.testing.assert_allclose(via_onnx.probabilities, via_native.probabilities, atol=1e-5)
    assert np.array_equal(via_onnx.codes, via_native.codes)  # type: ignore[arg-type]


def test_warmup_predicts_one_plausible_row(
    onnx_model: ServedModel, native_model: ServedModel, regressor: ServedModel
) -> None:
    for model in (onnx_model, native_model):
        warm = model.warmup()
        assert warm.rows == 1
        assert warm.probabilities is not None
        assert warm.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    values = regressor.warmup().values
    assert values is not None
    assert np.isfinite(values).all()


def test_explicit_formats(served_home: ServedHome) -> None:
    native = load_served_model(served_home.registry, "churn@1", format="skops")
    assert native.format == "skops"
    assert native.runtime_note == "native runtime (skops): skops requested"
    with pytest.raises(NotFoundError, match=r"no onnx package.*registered with onnx=False"):
        load_served_model(served_home.registry, "churn@2", format="onnx")
    with pytest.raises(NotFoundError, match="no onnx-int8 package; available: skops, onnx"):
        load_served_model(served_home.registry, "churn@1", format="onnx-int8")
    with pytest.raises(NotFoundError, match="no pickle package; available: skops, onnx"):
        load_served_model(served_home.registry, "churn@1", format="pickle")
    with pytest.raises(NotFoundError, match="no version 9"):
        load_served_model(served_home.registry, "churn@9")
    with pytest.raises(ValidationError, match="intra_op_threads must be a whole number >= 1"):
        load_served_model(served_home.registry, "churn@1", intra_op_threads=0)


def test_infer_checks_the_feeds(onnx_model: ServedModel, served_home: ServedHome) -> None:
    feeds = feeds_from_records(served_home.records("churn@1", rows=3), onnx_model.signature)
    without_age = {k: v for k, v in feeds.items() if k != "age"}
    with pytest.raises(ValidationError, match=r"lack the used column.*'age'"):
        onnx_model.infer(without_age)
    ragged = dict(feeds, age=np.zeros((2, 1)))
    with pytest.raises(ValidationError, match=r"differ in length: \[2, 3\]"):
        onnx_model.infer(ragged)
    wrong_dtype = dict(feeds, age=np.zeros((3, 1), dtype=np.int32))
    with pytest.raises(ValidationError, match="onnxruntime could not run"):
        onnx_model.infer(wrong_dtype)


def test_zero_rows_answer_empty_arrays(
    onnx_model: ServedModel, native_model: ServedModel, regressor: ServedModel
) -> None:
    for model in (onnx_model, native_model, regressor):
        empty = {c["name"]: np.empty((0, 1)) for c in model.signature["inputs"]}
        prediction = model.infer(empty)
        assert prediction.rows == 0
    probabilities = onnx_model.infer(
        {c["name"]: np.empty((0, 1)) for c in onnx_model.signature["inputs"]}
    ).probabilities
    assert probabilities is not None
    assert probabilities.shape == (0, 2)


@pytest.mark.parametrize("ref", ["churn@1", "churn@2"])
def test_concurrent_calls_answer_like_serial_ones(served_home: ServedHome, ref: str) -> None:
    model = load_served_model(served_home.registry, ref)
    records = served_home.records(ref)
    chunks = [records[i : i + 7] for i in range(0, len(records), 7)]
    feeds = [feeds_from_records(chunk, model.signature) for chunk in chunks]
    serial = [model.infer(f).probabilities for f in feeds]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda f: model.infer(f).probabilities, feeds * 3))
    for index, probabilities in enumerate(parallel):
        np.testing.assert_array_equal(probabilities, serial[index % len(feeds)])


def test_prediction_slices_and_concatenates() -> None:
    whole = Prediction(
        codes=np.array([0, 1, 1, 0]),
        probabilities=np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]]),
    )
    parts = [whole.slice(0, 1), whole.slice(1, 3), whole.slice(3, 4)]
    assert [p.rows for p in parts] == [1, 2, 1]
    assert parts[1].codes is not None
    assert parts[1].codes.tolist() == [1, 1]
    joined = Prediction.concat(parts)
    assert joined.values is None
    np.testing.assert_array_equal(joined.codes, whole.codes)  # type: ignore[arg-type]
    np.testing.assert_array_equal(joined.probabilities, whole.probabilities)  # type: ignore[arg-type]
    values = Prediction.concat(
        [Prediction(values=np.array([1.5])), Prediction(values=np.array([2.5]))]
    )
    assert values.values is not None
    assert values.values.tolist() == [1.5, 2.5]
    assert Prediction().rows == 0


def test_prediction_concat_refuses_nothing_and_mixtures() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        Prediction.concat([])
    with pytest.raises(ValidationError, match="different kinds"):
        Prediction.concat([Prediction(values=np.ones(1)), Prediction(codes=np.zeros(1, np.int64))])
