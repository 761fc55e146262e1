"""Convert a fitted modelyard model (preprocessing + estimator) to one ONNX graph.

The graph follows the serving convention, which the server and :mod:`onnx_model` rely on:

- Inputs: one per signature input whose ``used`` is true, in signature order, named by
  the column, shape ``[None, 1]``. ``numeric`` and ``boolean`` columns are double
  (booleans 0.0/1.0, missing ``NaN``), ``categorical`` columns are strings (missing
  ``""``), ``datetime`` columns are int64 nanoseconds since the epoch, UTC (missing
  ``INT64_MIN``). The graph treats those markers as missing exactly where the native
  pipeline treats ``NaN``/``None``/``NaT`` as missing.
- Outputs: classifiers ``label`` (int64 ``[N]``, the class code) and ``probabilities``
  (float32 ``[N, k]``, columns in code order); regressors ``variable`` (float32 ``[N, 1]``).

skl2onnx converts the scikit-learn parts; modelyard's own steps, HistGradientBoosting,
the category encoders, LightGBM, XGBoost and the PyTorch MLP go through the converters
in the private ``_onnx_*`` modules, registered once per process. Anything without an
exact ONNX form raises :class:`OnnxUnavailable` with a short reason instead of producing
a graph that would serve other numbers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.registry._onnx_graph import Unconvertible

__all__ = ["DEFAULT_OPSET", "MAX_OPSET", "MIN_OPSET", "OnnxUnavailable", "convert_to_onnx"]

DEFAULT_OPSET = 21
MIN_OPSET, MAX_OPSET = 19, 22  # Equal on strings needs 19; skl2onnx is tested up to 22
_ML_OPSET = 3  # ai.onnx.ml: double thresholds in tree ensembles
_KINDS = ("numeric", "boolean", "categorical", "datetime")
_TASKS = ("binary", "multiclass", "regression")

_registered = False
_lock = threading.Lock()


class OnnxUnavailable(ModelyardError):
    """The model has no exact ONNX form; ``reason`` says why, short and human-readable.

    The registry records ``"onnx unavailable: <reason>"`` on the version and serves the
    native model instead.
    """

    http_status = 422
    code = "ONNX_UNAVAILABLE"

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(
            f"the model cannot be exported to ONNX: {reason}", reason=reason, **details
        )
        self.reason = reason


def _register() -> None:
    """Register modelyard's converters with skl2onnx, once per process, thread-safely."""
    global _registered
    with _lock:
        if _registered:
            return
        from modelyard.registry._onnx_converters import register_preprocessing
        from modelyard.registry._onnx_estimators import register_estimators

        register_preprocessing()
        register_estimators()
        _registered = True


def _check_signature(signature: object) -> tuple[list[dict[str, Any]], str, int]:
    """The used inputs, the task and the number of classes (0 for regression)."""
    if not isinstance(signature, dict) or not isinstance(signature.get("inputs"), list):
        raise ValidationError(
            "signature must be a mapping with an 'inputs' list and an 'output' mapping "
            "(what training logs as model/signature.json)"
        )
    output = signature.get("output")
    task = output.get("task") if isinstance(output, dict) else None
    if task not in _TASKS:
        raise ValidationError(
            f"signature output task must be one of {', '.join(_TASKS)}, got {task!r}"
        )
    if not all(isinstance(c, dict) for c in signature["inputs"]):
        raise ValidationError("every signature input must be a mapping with a name and a kind")
    inputs = [c for c in signature["inputs"] if c.get("used", True)]
    if not inputs:
        raise ValidationError("the signature has no used input column")
    for column in inputs:
        if not isinstance(column.get("name"), str) or not column["name"]:
            raise ValidationError(f"signature input without a name: {column!r:.120}")
        if column.get("kind") not in _KINDS:
            raise OnnxUnavailable(
                f"column {column['name']!r} has kind {column.get('kind')!r}; "
                f"only {', '.join(_KINDS)} columns are converted"
            )
    n_classes = 0
    if task != "regression":
        classes = output.get("classes") if isinstance(output, dict) else None
        if not isinstance(classes, list) or len(classes) < 2:
            raise ValidationError("a classifier's signature output needs its classes (2 or more)")
        n_classes = len(classes)
    return inputs, task, n_classes


def _check_opset(opset: int | None) -> int:
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValidationError(
            f"opset must be an int from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}", opset=str(opset)
        )
    return opset


def _walk(model: Any) -> Iterator[Any]:
    """Every estimator inside ``model`` (pipelines, column transformers, ensembles)."""
    yield model
    children: list[Any] = []
    if hasattr(model, "steps"):
        children = [step for _, step in model.steps]
    elif hasattr(model, "transformers_"):
        children = [step for _, step, _ in model.transformers_]
    elif hasattr(model, "estimators_"):
        children = [*model.estimators_, getattr(model, "final_estimator_", None)]
    for child in children:
        if child is not None and not isinstance(child, str):
            yield from _walk(child)


def _check_columns(model: Any, inputs: list[dict[str, Any]]) -> None:
    names = {c["name"] for c in inputs}
    for part in _walk(model):
        for _, step, columns in getattr(part, "transformers_", []):
            if isinstance(step, str) and step == "drop":
                continue
            for column in columns if isinstance(columns, list | tuple) else [columns]:
                if isinstance(column, str) and column not in names:
                    raise OnnxUnavailable(
                        f"the model reads column {column!r}, which the signature does not "
                        "list as a used input"
                    )


def _types(inputs: list[dict[str, Any]], n_classes: int) -> tuple[list[Any], list[Any]]:
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    kinds = {
        "numeric": DoubleTensorType,
        "boolean": DoubleTensorType,
        "categorical": StringTensorType,
        "datetime": Int64TensorType,
    }
    initial = [(c["name"], kinds[c["kind"]]([None, 1])) for c in inputs]
    if n_classes:
        final = [
            ("label", Int64TensorType([None])),
            ("probabilities", FloatTensorType([None, n_classes])),
        ]
    else:
        final = [("variable", FloatTensorType([None, 1]))]
    return initial, final


def _short(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def _convert(model: Any, inputs: list[dict[str, Any]], n_classes: int, opset: int) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator
    from sklearn.ensemble import StackingClassifier, StackingRegressor

    from modelyard.registry._onnx_ensembles import parse_stacking
    from modelyard.registry._onnx_rewrite import rewrite_for_onnx

    initial, final = _types(inputs, n_classes)
    try:
        return convert_sklearn(
            rewrite_for_onnx(model),
            initial_types=initial,
            final_types=final,
            target_opset={"": opset, "ai.onnx.ml": _ML_OPSET},
            options={"zipmap": False} if n_classes else None,
            custom_parsers={StackingClassifier: parse_stacking, StackingRegressor: parse_stacking},
        )
    except Unconvertible as exc:
        raise OnnxUnavailable(exc.reason) from None
    except (MissingConverter, MissingShapeCalculator) as exc:
        name = _missing_name(exc)
        raise OnnxUnavailable(f"skl2onnx cannot convert {name}") from None
    except Exception as exc:  # noqa: BLE001 - any converter failure means no ONNX package
        raise OnnxUnavailable(f"skl2onnx failed ({_short(exc)})") from None


def _missing_name(exc: BaseException) -> str:
    """The class name in skl2onnx's "no converter for type '<class 'a.b.Name'>'" messages."""
    found = re.search(r"<class '([\w.]+)'>", str(exc))
    return found.group(1).rsplit(".", 1)[-1] if found else _short(exc)


def _drop_unused_initializers(onnx_model: Any) -> None:
    """Remove constants no node reads (skl2onnx leaves a few; onnxruntime warns on each)."""
    graph = onnx_model.graph
    used = {name for node in graph.node for name in node.input}
    used |= {output.name for output in graph.output}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)


def _check_loadable(data: bytes) -> None:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - the runtime's errors have no common base
        raise OnnxUnavailable(
            f"onnxruntime cannot load the converted graph ({_short(exc)})"
        ) from None


def convert_to_onnx(model: Any, signature: dict[str, Any], *, opset: int | None = None) -> bytes:
    """The fitted model as a serialized ONNX graph that follows the serving convention.

    Args:
        model: A fitted ``Pipeline([("features", ColumnTransformer), ("model", estimator)])``
            from ``modelyard.training``, or a voting/stacking ensemble of such pipelines.
        signature: The model's signature (``TrainResult.signature``): its used inputs
            become the graph inputs; ``output.task`` and ``output.classes`` set the outputs.
        opset: ONNX opset of the default domain (``MIN_OPSET`` to ``MAX_OPSET``; default
            ``DEFAULT_OPSET``).

    Returns:
        The ``ModelProto`` bytes; onnxruntime has loaded them once.

    Raises:
        OnnxUnavailable: A part of the model has no exact ONNX form (``reason`` says which).
        ValidationError: A malformed signature or opset.

    Example:
        >>> data = convert_to_onnx(result.model, result.signature)
        >>> OnnxModel(data, result.signature).predict_proba(frame)
    """
    inputs, task, n_classes = _check_signature(signature)
    target_opset = _check_opset(opset)
    if n_classes and not hasattr(model, "predict_proba"):
        raise OnnxUnavailable(
            f"the signature says {task} but {type(model).__name__} has no predict_proba"
        )
    _check_columns(model, inputs)
    _register()
    onnx_model = _convert(model, inputs, n_classes, target_opset)
    _drop_unused_initializers(onnx_model)
    onnx_model.graph.name = "modelyard"  # skl2onnx draws a random one: keep bytes reproducible
    onnx_model.doc_string = f"modelyard {task} model"
    data: bytes = onnx_model.SerializeToString()
    _check_loadable(data)
    return data
