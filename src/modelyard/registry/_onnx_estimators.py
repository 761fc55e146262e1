"""skl2onnx converters for the model families skl2onnx does not know itself.

- ``TorchMLPClassifier`` / ``TorchMLPRegressor``: the layers are built from the fitted
  estimator's numpy weights (``coefs_``, ``intercepts_``) with MatMul, Add, the
  activation and Softmax, all in double. This is used instead of ``torch.onnx`` because
  the fitted estimator holds numpy weights, not a torch module (it predicts in numpy),
  so the graph computes what ``predict_proba`` / ``predict`` compute (bit for bit but
  for summation order, and erf in GELU, which ONNX Runtime has only in float32), and
  converting needs no torch.
- LightGBM and XGBoost: onnxmltools' converters, registered with skl2onnx's own shape
  calculators (the recipe both projects document). They read float32 features; the
  rewrite puts a cast in front of them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import TensorProto

from modelyard.registry._onnx_graph import Unconvertible, add_const, add_node, input_kind

__all__ = ["register_estimators"]

_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid"}


def _gelu(scope: Any, container: Any, z: str) -> str:
    """Exact GELU, ``0.5 * z * (1 + erf(z / sqrt(2)))``, as torch's and the numpy forward.

    ONNX Runtime has no double ``Erf`` kernel, so erf alone runs in float32 (an error
    near 1e-7 per unit); everything around it stays double.
    """
    root2 = add_const(scope, container, "sqrt2", np.array(math.sqrt(2.0)))
    scaled32 = add_node(
        scope,
        container,
        "Cast",
        [add_node(scope, container, "Div", [z, root2])],
        to=TensorProto.FLOAT,
    )
    erf32 = add_node(scope, container, "Erf", [scaled32])
    erf = add_node(scope, container, "Cast", [erf32], to=TensorProto.DOUBLE)
    one = add_const(scope, container, "one", np.array(1.0))
    half = add_const(scope, container, "half", np.array(0.5))
    scaled = add_node(scope, container, "Mul", [z, half])
    return add_node(
        scope, container, "Mul", [scaled, add_node(scope, container, "Add", [erf, one])]
    )


def _forward(scope: Any, container: Any, operator: Any) -> str:
    """The network's raw outputs (logits or standardised targets) in double."""
    mlp = operator.raw_operator
    h: str = operator.inputs[0].full_name
    if input_kind(operator) != "double":
        h = add_node(scope, container, "Cast", [h], to=TensorProto.DOUBLE)
    last = len(mlp.coefs_) - 1
    for i, (weight, bias) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        w = add_const(scope, container, f"coef{i}", np.asarray(weight, dtype=np.float64))
        b = add_const(scope, container, f"bias{i}", np.asarray(bias, dtype=np.float64))
        h = add_node(scope, container, "Add", [add_node(scope, container, "MatMul", [h, w]), b])
        if i == last:
            break
        if mlp.activation == "gelu":
            h = _gelu(scope, container, h)
        elif mlp.activation in _ACTIVATIONS:
            h = add_node(scope, container, _ACTIVATIONS[mlp.activation], [h])
        else:
            raise Unconvertible(f"TorchMLP activation {mlp.activation!r} is not converted")
    return h


def _convert_mlp_classifier(scope: Any, operator: Any, container: Any) -> None:
    mlp = operator.raw_operator
    classes = np.asarray(mlp.classes_)
    if classes.dtype.kind not in "iub":
        raise Unconvertible("TorchMLPClassifier with non-integer class labels is not converted")
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    logits = _forward(scope, container, operator)
    add_node(scope, container, "Softmax", [logits], proba, axis=1)
    if np.array_equal(classes, np.arange(len(classes))):
        add_node(scope, container, "ArgMax", [proba], label, axis=1, keepdims=0)
        return
    best = add_node(scope, container, "ArgMax", [proba], axis=1, keepdims=0)
    table = add_const(scope, container, "classes", classes.astype(np.int64))
    add_node(scope, container, "Gather", [table, best], label, axis=0)


def _convert_mlp_regressor(scope: Any, operator: Any, container: Any) -> None:
    mlp = operator.raw_operator
    out = _forward(scope, container, operator)
    scale = add_const(scope, container, "y_scale", np.asarray(mlp.y_scale_, dtype=np.float64))
    mean = add_const(scope, container, "y_mean", np.asarray(mlp.y_mean_, dtype=np.float64))
    scaled = add_node(scope, container, "Mul", [out, scale])
    add_node(scope, container, "Add", [scaled, mean], operator.outputs[0].full_name)


def _shape_mlp_regressor(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType

    if int(operator.raw_operator.n_outputs_) != 1:
        raise Unconvertible("TorchMLPRegressor with several targets is not converted")
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = DoubleTensorType([n, 1])


def _shape_mlp_classifier(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType

    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([n])
    operator.outputs[1].type = DoubleTensorType([n, len(operator.raw_operator.classes_)])


_CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}


def _register_boosters() -> None:
    """LightGBM and XGBoost through onnxmltools, where those libraries are installed."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    try:
        import lightgbm
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    except ImportError:
        pass
    else:
        update_registered_converter(
            lightgbm.LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=_CLASSIFIER_OPTIONS,
        )
        update_registered_converter(
            lightgbm.LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
            options={"split": None},
        )
    try:
        import xgboost
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    except ImportError:
        return
    update_registered_converter(
        xgboost.XGBClassifier,
        "XGBoostXGBClassifier",
        calculate_linear_classifier_output_shapes,
        convert_xgboost,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        xgboost.XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        convert_xgboost,
    )


def register_estimators() -> None:
    """Register the estimator converters with skl2onnx (call once, under a lock)."""
    from skl2onnx import update_registered_converter

    from modelyard.registry._onnx_hgb import (
        BoostedClassifier,
        BoostedRegressor,
        convert_boosted,
        shape_boosted,
    )
    from modelyard.training import TorchMLPClassifier, TorchMLPRegressor

    update_registered_converter(
        TorchMLPClassifier,
        "ModelyardTorchMLPClassifier",
        _shape_mlp_classifier,
        _convert_mlp_classifier,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        TorchMLPRegressor,
        "ModelyardTorchMLPRegressor",
        _shape_mlp_regressor,
        _convert_mlp_regressor,
    )
    update_registered_converter(
        BoostedClassifier,
        "ModelyardBoostedClassifier",
        shape_boosted,
        convert_boosted,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        BoostedRegressor, "ModelyardBoostedRegressor", shape_boosted, convert_boosted
    )
    from modelyard.registry._onnx_ensembles import (
        StackFeatures,
        convert_stack_features,
        shape_stack_features,
    )

    update_registered_converter(
        StackFeatures, "ModelyardStackFeatures", shape_stack_features, convert_stack_features
    )
    _register_boosters()
