"""HistGradientBoosting as an ONNX tree ensemble in double precision.

skl2onnx's own converter compares in float32 (scikit-learn predicts in float64) and
fails on current scikit-learn; this one writes the fitted trees into one ai.onnx.ml
``TreeEnsembleRegressor`` with double thresholds and leaf values (opset 3), so each row
follows the very path it follows natively (the operator returns the sum of the leaves
as float32, a relative error near 1e-7), then applies the loss's inverse link
(identity, logistic or softmax) as scikit-learn does. Categorical splits are not
converted (modelyard's pipelines pass numbers only, so none occur).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto
from onnx.numpy_helper import from_array
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from modelyard.registry._onnx_graph import Unconvertible, add_const, add_node, input_kind

__all__ = ["BoostedClassifier", "BoostedRegressor", "boosted", "convert_boosted", "shape_boosted"]

_LINKS = {
    "HalfSquaredError": "identity",
    "HalfBinomialLoss": "logistic",
    "HalfMultinomialLoss": "softmax",
}


class _BoostedTrees(BaseEstimator):  # type: ignore[misc]
    """Stands in for a fitted HistGradientBoosting model.

    Args:
        model: The fitted ``HistGradientBoostingClassifier`` or ``...Regressor``.
    """

    def __init__(self, model: Any = None) -> None:
        self.model = model


class BoostedClassifier(ClassifierMixin, _BoostedTrees):  # type: ignore[misc]
    """A HistGradientBoostingClassifier, to the classifier parser (label and probabilities)."""


class BoostedRegressor(RegressorMixin, _BoostedTrees):  # type: ignore[misc]
    """A HistGradientBoostingRegressor."""


def boosted(model: Any) -> _BoostedTrees:
    """The stand-in for a fitted HistGradientBoosting model."""
    return BoostedClassifier(model) if hasattr(model, "classes_") else BoostedRegressor(model)


def _internals(model: Any) -> tuple[list[list[Any]], Any, str]:
    name = type(model).__name__
    try:
        predictors, baseline = model._predictors, model._baseline_prediction
        loss = type(model._loss).__name__
    except AttributeError:
        raise Unconvertible(
            f"{name}: this scikit-learn version keeps its trees where the converter does not look"
        ) from None
    if loss not in _LINKS:
        raise Unconvertible(f"{name} with loss {loss} is not converted")
    return predictors, baseline, _LINKS[loss]


def _ensemble_attributes(predictors: list[list[Any]], baseline: Any) -> dict[str, Any]:
    per_iteration = len(predictors[0]) if predictors else np.asarray(baseline).size
    nodes: dict[str, list[Any]] = {
        k: [] for k in ("tree", "id", "feature", "mode", "true", "false", "nan_left")
    }
    values: list[float] = []
    targets: dict[str, list[Any]] = {"tree": [], "node": [], "id": [], "weight": []}
    for it, trees in enumerate(predictors):
        for k, predictor in enumerate(trees):
            tree = it * per_iteration + k
            for i, node in enumerate(predictor.nodes):
                if node["is_categorical"]:
                    raise Unconvertible(
                        "HistGradientBoosting with categorical splits is not converted"
                    )
                leaf = bool(node["is_leaf"])
                nodes["tree"].append(tree)
                nodes["id"].append(i)
                nodes["feature"].append(0 if leaf else int(node["feature_idx"]))
                nodes["mode"].append("LEAF" if leaf else "BRANCH_LEQ")
                nodes["true"].append(0 if leaf else int(node["left"]))
                nodes["false"].append(0 if leaf else int(node["right"]))
                nodes["nan_left"].append(0 if leaf else int(node["missing_go_to_left"]))
                values.append(0.0 if leaf else float(node["num_threshold"]))
                if leaf:
                    targets["tree"].append(tree)
                    targets["node"].append(i)
                    targets["id"].append(k)
                    targets["weight"].append(float(node["value"]))
    return {
        "n_targets": int(per_iteration),
        "aggregate_function": "SUM",
        "post_transform": "NONE",
        "base_values_as_tensor": from_array(np.asarray(baseline, dtype=np.float64).ravel()),
        "nodes_treeids": nodes["tree"],
        "nodes_nodeids": nodes["id"],
        "nodes_featureids": nodes["feature"],
        "nodes_modes": nodes["mode"],
        "nodes_truenodeids": nodes["true"],
        "nodes_falsenodeids": nodes["false"],
        "nodes_missing_value_tracks_true": nodes["nan_left"],
        "nodes_values_as_tensor": from_array(np.asarray(values, dtype=np.float64)),
        "target_treeids": targets["tree"],
        "target_nodeids": targets["node"],
        "target_ids": targets["id"],
        "target_weights_as_tensor": from_array(np.asarray(targets["weight"], dtype=np.float64)),
    }


def shape_boosted(operator: Any) -> None:
    """``label`` and ``probabilities`` for a classifier, ``variable`` for a regressor."""
    from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType

    n = operator.inputs[0].get_first_dimension()
    model = operator.raw_operator.model
    if hasattr(model, "classes_"):
        operator.outputs[0].type = Int64TensorType([n])
        operator.outputs[1].type = DoubleTensorType([n, len(model.classes_)])
    else:
        operator.outputs[0].type = DoubleTensorType([n, 1])


def convert_boosted(scope: Any, operator: Any, container: Any) -> None:
    """The tree ensemble, then the inverse link of the loss."""
    model = operator.raw_operator.model
    predictors, baseline, link = _internals(model)
    x = operator.inputs[0].full_name
    if input_kind(operator) != "double":
        x = add_node(scope, container, "Cast", [x], to=TensorProto.DOUBLE)
    attrs = _ensemble_attributes(predictors, baseline)
    summed = scope.get_unique_variable_name("raw")
    container.add_node(
        "TreeEnsembleRegressor",
        [x],
        [summed],
        op_domain="ai.onnx.ml",
        op_version=3,
        name=scope.get_unique_operator_name("TreeEnsembleRegressor"),
        **attrs,
    )
    # the operator's output is float32 whatever its input (thresholds stay double)
    raw = add_node(scope, container, "Cast", [summed], to=TensorProto.DOUBLE)
    if link == "identity":
        add_node(scope, container, "Identity", [raw], operator.outputs[0].full_name)
        return
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    if link == "logistic":
        positive = add_node(scope, container, "Sigmoid", [raw])
        one = add_const(scope, container, "one", np.array(1.0))
        negative = add_node(scope, container, "Sub", [one, positive])
        add_node(scope, container, "Concat", [negative, positive], proba, axis=1)
    else:
        add_node(scope, container, "Softmax", [raw], proba, axis=1)
    classes = np.asarray(model.classes_)
    if classes.dtype.kind not in "iub":
        raise Unconvertible(
            f"{type(model).__name__} with non-integer class labels is not converted"
        )
    best = add_node(scope, container, "ArgMax", [proba], axis=1, keepdims=0)
    table = add_const(scope, container, "classes", classes.astype(np.int64))
    add_node(scope, container, "Gather", [table, best], label, axis=0)
