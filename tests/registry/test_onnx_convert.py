"""convert_to_onnx: every model family and ensemble converts and passes the parity check."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.registry.onnx_convert import OnnxUnavailable, convert_to_onnx
from modelyard.registry.onnx_model import OnnxModel
from modelyard.registry.parity import check_parity
from modelyard.training.ensembles import average_of, stack_of
from tests.registry._onnx_samples import TARGET, fit_pipeline, fitted, holdout, make_frame, onnx_of

FAMILIES = [
    "linear",
    "random_forest",
    "extra_trees",
    "hist_gradient_boosting",
    "lightgbm",
    "xgboost",
    "torch_mlp",
]
CASES = (
    [("binary", f) for f in FAMILIES]
    + [("multiclass", f) for f in ("linear", "random_forest", "hist_gradient_boosting")]
    + [("multiclass", f) for f in ("lightgbm", "xgboost", "torch_mlp")]
    + [("regression", f) for f in ("linear", "extra_trees", "hist_gradient_boosting")]
    + [("regression", f) for f in ("lightgbm", "xgboost", "torch_mlp")]
)


@pytest.fixture(autouse=True)
def one_openmp_thread() -> Iterator[None]:
    """HistGradientBoosting and XGBoost use OpenMP; keep them polite on a shared box."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.mark.parametrize(("task", "family"), CASES)
def test_every_family_converts_within_tolerance(task: str, family: str) -> None:
    model, signature = fitted(family, task)
    converted = onnx_of(model, signature)
    rows = holdout(task)
    parity = check_parity(model, converted, rows, task)
    assert parity.ok, parity.reason
    assert parity.rows == len(rows)
    if task == "regression":
        np.testing.assert_allclose(converted.predict(rows), model.predict(rows), rtol=1e-5)
        assert parity.max_abs_diff < 1e-5 * np.abs(model.predict(rows)).max()
    else:
        proba = converted.predict_proba(rows)
        assert proba.shape == (len(rows), len(signature["output"]["classes"]))
        assert parity.max_abs_diff < 1e-5  # the float32 output rounding, no more
        np.testing.assert_array_equal(converted.predict(rows), model.predict(rows))


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_every_mlp_activation_converts(activation: str) -> None:
    params = {"units": 8, "n_layers": 2, "activation": activation, "max_epochs": 30}
    for task in ("binary", "regression"):
        model, signature = fit_pipeline("torch_mlp", task, params=params)
        parity = check_parity(model, onnx_of(model, signature), holdout(task), task)
        assert parity.ok, parity.reason
        assert parity.max_abs_diff < 1e-5


def _members(task: str) -> list[tuple[str, Pipeline]]:
    linear, _ = fitted("linear", task)
    boosted, _ = fitted("lightgbm", task)
    forest, _ = fitted("random_forest", task)
    return [("linear", clone(linear)), ("lightgbm", clone(boosted)), ("forest", clone(forest))]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("kind", ["average", "stack"])
def test_ensembles_of_pipelines_convert(task: str, kind: str) -> None:
    frame = make_frame(task=task)
    members = _members(task)
    ensemble = average_of(members, task) if kind == "average" else stack_of(members, task, 0)
    ensemble.fit(frame.drop(columns=TARGET), frame[TARGET])
    _, signature = fitted("linear", task)
    parity = check_parity(ensemble, onnx_of(ensemble, signature), holdout(task), task)
    assert parity.ok, parity.reason


def test_the_graph_follows_the_serving_convention() -> None:
    model, signature = fit_pipeline("linear", spec={"drop": ["senior"]})
    graph = onnx.load_from_string(convert_to_onnx(model, signature)).graph
    types = {i.name: i.type.tensor_type for i in graph.input}
    assert list(types) == [c["name"] for c in signature["inputs"]]  # "senior" stays an input
    elem = onnx.TensorProto
    expected = {
        "charges": elem.DOUBLE,
        "tenure": elem.DOUBLE,
        "region": elem.STRING,
        "plan": elem.STRING,
        "paperless": elem.DOUBLE,
        "senior": elem.DOUBLE,
        "signup": elem.INT64,
    }
    assert {name: t.elem_type for name, t in types.items()} == expected
    assert all(
        [d.dim_value for d in t.shape.dim] == [0, 1] and not t.shape.dim[0].dim_value
        for t in types.values()
    )
    outputs = {o.name: o.type.tensor_type for o in graph.output}
    assert list(outputs) == ["label", "probabilities"]
    assert outputs["label"].elem_type == elem.INT64
    assert len(outputs["label"].shape.dim) == 1
    assert outputs["probabilities"].elem_type == elem.FLOAT
    assert outputs["probabilities"].shape.dim[1].dim_value == 2
    reg_model, reg_signature = fitted("linear", "regression")
    reg = onnx.load_from_string(convert_to_onnx(reg_model, reg_signature)).graph
    assert [(o.name, o.type.tensor_type.elem_type) for o in reg.output] == [
        ("variable", elem.FLOAT)
    ]
    assert reg.output[0].type.tensor_type.shape.dim[1].dim_value == 1


def test_conversion_leaves_the_model_untouched_and_is_deterministic() -> None:
    model, signature = fit_pipeline("hist_gradient_boosting", params={"max_iter": 10})
    before = pickle.dumps(model)
    first = convert_to_onnx(model, signature)
    assert pickle.dumps(model) == before
    assert convert_to_onnx(model, signature) == first


def test_concurrent_conversions_register_once_and_agree() -> None:
    model, signature = fitted("xgboost", "binary")
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(convert_to_onnx(model, signature))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1


def test_a_lower_opset_is_honoured_and_a_bad_one_refused() -> None:
    model, signature = fitted("linear", "binary")
    data = convert_to_onnx(model, signature, opset=19)
    opsets = {o.domain: o.version for o in onnx.load_from_string(data).opset_import}
    assert opsets[""] <= 19
    assert check_parity(model, OnnxModel(data, signature), holdout(), "binary").ok
    for bad in (3, 18, 99, "21", True):
        with pytest.raises(ValidationError, match="opset must be an int from 19 to 22"):
            convert_to_onnx(model, signature, opset=bad)  # type: ignore[arg-type]


class Unknown(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """A regressor no converter knows."""

    def fit(self, X: Any, y: Any) -> Unknown:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.mean_)


def test_an_unknown_estimator_is_reported_by_name() -> None:
    frame = make_frame(task="regression")
    model, signature = fitted("linear", "regression")
    pipe = Pipeline([("features", clone(model.named_steps["features"])), ("model", Unknown())])
    pipe.fit(frame.drop(columns=TARGET), frame[TARGET])
    with pytest.raises(OnnxUnavailable) as caught:
        convert_to_onnx(pipe, signature)
    assert caught.value.reason == "skl2onnx cannot convert Unknown"
    assert isinstance(caught.value, ModelyardError)
    assert caught.value.to_dict()["reason"] == caught.value.reason


def _signature_with(signature: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    inputs = [dict(c, **changes) if c["name"] == name else c for c in signature["inputs"]]
    return {**signature, "inputs": inputs}


def test_signature_problems_give_clear_reasons() -> None:
    model, signature = fitted("linear", "binary")
    wrong_kind = _signature_with(signature, "charges", kind="categorical")
    with pytest.raises(OnnxUnavailable, match="AsFloat gets string input") as caught:
        convert_to_onnx(model, wrong_kind)
    assert "column kinds do not match" in caught.value.reason
    with pytest.raises(OnnxUnavailable, match="reads column 'region'"):
        convert_to_onnx(model, _signature_with(signature, "region", used=False))
    with pytest.raises(OnnxUnavailable, match="kind 'geo'"):
        convert_to_onnx(model, _signature_with(signature, "region", kind="geo"))
    regressor, _ = fitted("linear", "regression")
    with pytest.raises(OnnxUnavailable, match="has no predict_proba"):
        convert_to_onnx(regressor, signature)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "signature must be a mapping"),
        ({"inputs": "x", "output": {}}, "signature must be a mapping"),
        ({"inputs": [], "output": {"task": "ranking"}}, "task must be one of"),
        ({"inputs": [], "output": {"task": "regression"}}, "no used input"),
        ({"inputs": ["age"], "output": {"task": "regression"}}, "every signature input"),
        ({"inputs": [{"kind": "numeric"}], "output": {"task": "regression"}}, "without a name"),
        (
            {"inputs": [{"name": "a", "kind": "numeric"}], "output": {"task": "binary"}},
            "needs its classes",
        ),
    ],
)
def test_malformed_signatures_are_refused(signature: Any, message: str) -> None:
    model, _ = fitted("linear", "regression")
    with pytest.raises(ValidationError, match=message):
        convert_to_onnx(model, signature)


def test_a_huge_categorical_level_set_converts() -> None:
    rng = np.random.default_rng(5)
    frame = make_frame(600)
    frame["city"] = pd.Series([f"city-{i}" for i in rng.integers(0, 400, 600)], dtype=object)
    spec = {"columns": {"city": {"encode": "target"}}}
    model, signature = fit_pipeline("linear", spec=spec, frame=frame)
    rows = frame.drop(columns=TARGET).sample(100, random_state=1)
    rows.loc[rows.index[:5], "city"] = ["é", "", "\x00", "city-9999", "日本"]
    parity = check_parity(model, onnx_of(model, signature), rows, "binary")
    assert parity.ok, parity.reason
