"""Stacking ensembles over whole member pipelines, each reading every graph input.

skl2onnx's stacking converters feed the members one input tensor; modelyard's members
are pipelines over many named columns. This parser parses each member on all the graph
inputs, joins their outputs into the meta-features (dropping the first probability of
a binary problem, as scikit-learn does) and parses the final estimator on them.
Soft voting needs none of this: skl2onnx's voting converters pass every input on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto
from sklearn.base import BaseEstimator

from modelyard.registry._onnx_graph import Unconvertible, add_const, add_node

__all__ = ["StackFeatures", "convert_stack_features", "parse_stacking", "shape_stack_features"]

_ALIAS = "ModelyardStackFeatures"


class StackFeatures(BaseEstimator):  # type: ignore[misc]
    """Joins the members' outputs into the final estimator's features.

    Args:
        drop_first: Drop each member's first column (binary probabilities).
    """

    def __init__(self, drop_first: bool = False) -> None:
        self.drop_first = drop_first


def shape_stack_features(operator: Any) -> None:
    """One double column per kept member output column."""
    from skl2onnx.common.data_types import DoubleTensorType

    widths = [v.type.shape[1] if len(v.type.shape) == 2 else 1 for v in operator.inputs]
    if any(not isinstance(w, int) for w in widths):
        width = None
    else:
        width = sum(widths) - (len(widths) if operator.raw_operator.drop_first else 0)
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = DoubleTensorType([n, width])


def convert_stack_features(scope: Any, operator: Any, container: Any) -> None:
    """Cast each member output to double, drop the first column if asked, concatenate."""
    parts = []
    for variable in operator.inputs:
        part = add_node(scope, container, "Cast", [variable.full_name], to=TensorProto.DOUBLE)
        if operator.raw_operator.drop_first:
            start = add_const(scope, container, "start", np.array([1], dtype=np.int64))
            end = add_const(scope, container, "end", np.array([2**62], dtype=np.int64))
            axes = add_const(scope, container, "axes", np.array([1], dtype=np.int64))
            part = add_node(scope, container, "Slice", [part, start, end, axes])
        parts.append(part)
    add_node(scope, container, "Concat", parts, operator.outputs[0].full_name, axis=1)


def _member_outputs(scope: Any, model: Any, inputs: list[Any], parsers: Any) -> list[Any]:
    from skl2onnx._parse import _parse_sklearn

    classifier = hasattr(model, "classes_")
    methods = getattr(model, "stack_method_", None) or ["predict"] * len(model.estimators_)
    outputs = []
    for member, method in zip(model.estimators_, methods, strict=True):
        if isinstance(member, str):  # "drop"
            continue
        if classifier and method != "predict_proba":
            raise Unconvertible(f"StackingClassifier with stack_method {method!r} is not converted")
        if classifier:
            scope.add_options(id(member), {"zipmap": False})
        parsed = _parse_sklearn(scope, member, inputs, custom_parsers=parsers)
        outputs.append(parsed[1] if classifier else parsed[0])
    return outputs


def parse_stacking(scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None) -> Any:
    """skl2onnx parser for ``StackingClassifier`` / ``StackingRegressor``."""
    from skl2onnx._parse import _parse_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    name = type(model).__name__
    if model.passthrough:
        raise Unconvertible(f"{name}(passthrough=True) is not converted")
    classifier = hasattr(model, "classes_")
    if classifier and not np.array_equal(model.classes_, np.arange(len(model.classes_))):
        raise Unconvertible(f"{name} with labels other than the codes 0..k-1 is not converted")
    operator = scope.declare_local_operator(
        _ALIAS, StackFeatures(drop_first=classifier and len(model.classes_) == 2)
    )
    operator.inputs = _member_outputs(scope, model, inputs, custom_parsers)
    features = scope.declare_local_variable("stack_features", DoubleTensorType())
    operator.outputs.append(features)
    final = model.final_estimator_
    if classifier:
        scope.add_options(id(final), {"zipmap": False})
    return _parse_sklearn(scope, final, [features], custom_parsers=custom_parsers)
