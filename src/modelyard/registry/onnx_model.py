"""Run a converted model: feeds built from a frame, an onnxruntime session, predictions.

:func:`onnx_feeds` turns a DataFrame or Arrow table into the graph inputs of the
serving convention (see :mod:`modelyard.registry.onnx_convert`), converting values the
way the native preprocessing reads them: numbers, nullable integers and booleans to
double (timedeltas to seconds), categories to their ``str()`` with ``""`` for missing,
datetimes to int64 nanoseconds since the epoch in UTC with ``INT64_MIN`` for missing.
A present empty string is not missing to the native pipeline (it is a level, unknown
unless training saw it), so it is sent as :data:`EMPTY_LEVEL`, an unseen level.
Checking that the columns exist and have the right types is the caller's job
(``signature_check``); values that cannot be converted still raise ValidationError.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray
from pandas.api import types as ptypes

from modelyard.exceptions import IntegrityError, ValidationError

__all__ = ["EMPTY_LEVEL", "OnnxModel", "onnx_feeds"]

# What a present empty string is sent as: the graph reads "" as missing, while the native
# encoders see "" as a level of its own, unknown unless training had it.
EMPTY_LEVEL = "\x00empty"

_CLASSIFIER_OUTPUTS = ["label", "probabilities"]
_REGRESSOR_OUTPUTS = ["variable"]


def _used_inputs(signature: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = signature.get("inputs") if isinstance(signature, dict) else None
    if not isinstance(inputs, list):
        raise ValidationError("signature must be a mapping with an 'inputs' list")
    return [c for c in inputs if isinstance(c, dict) and c.get("used", True)]


def _column(data: pd.DataFrame | pa.Table, name: str) -> pd.Series:
    if isinstance(data, pa.Table):
        series: pd.Series = data.column(name).to_pandas()
        return series
    return data[name]


def _as_double(series: pd.Series, name: str) -> NDArray[np.float64]:
    try:
        if ptypes.is_timedelta64_dtype(series.dtype):
            series = series.dt.total_seconds()
        elif series.dtype == object and ptypes.infer_dtype(series).startswith("timedelta"):
            series = pd.to_timedelta(series).dt.total_seconds()
        elif not (ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype)):
            series = pd.to_numeric(series, errors="raise")
        values: NDArray[np.float64] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"column {name!r} must hold numbers (or booleans) but has values that are not: {exc}",
            column=name,
        ) from None
    return values


def _as_text(series: pd.Series) -> NDArray[np.object_]:
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    text: NDArray[np.object_] = values.astype(str).astype(object)  # str(), as AsObject does
    text[text == ""] = EMPTY_LEVEL  # a present "" is a level natively, never missing
    text[missing] = ""
    return text


def _as_nanoseconds(series: pd.Series, name: str) -> NDArray[np.int64]:
    try:
        if not ptypes.is_datetime64_dtype(series.dtype):  # aware, text, dates: naive UTC
            series = pd.to_datetime(series, utc=True, format="ISO8601")
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        # as_unit raises past the nanosecond range; to_numpy would silently wrap around
        stamps = series.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]")
    except (TypeError, ValueError, OverflowError) as exc:  # OutOfBoundsDatetime is a ValueError
        raise ValidationError(
            f"column {name!r} must hold dates or times (years 1678-2261) but has values "
            f"that are not: {exc}",
            column=name,
        ) from None
    nanoseconds: NDArray[np.int64] = stamps.view(np.int64)  # NaT is INT64_MIN: missing
    return nanoseconds


def onnx_feeds(data: pd.DataFrame | pa.Table, signature: dict[str, Any]) -> dict[str, np.ndarray]:
    """The graph inputs for ``data``: one ``[N, 1]`` array per used signature column.

    Args:
        data: The rows; extra columns are ignored.
        signature: The model's signature.

    Returns:
        ``{column: array}``: double for numeric and boolean columns, object (str) for
        categorical ones, int64 nanoseconds for datetimes.

    Raises:
        ValidationError: Not a DataFrame or Arrow table, a missing column, or a value
            that cannot be converted to its column's kind.
    """
    if not isinstance(data, pd.DataFrame | pa.Table):
        raise ValidationError(
            f"expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}"
        )
    columns = set(data.column_names if isinstance(data, pa.Table) else data.columns)
    feeds: dict[str, np.ndarray] = {}
    for entry in _used_inputs(signature):
        name, kind = entry["name"], entry.get("kind")
        if name not in columns:
            raise ValidationError(f"the data has no column {name!r}", column=name)
        series = _column(data, name)
        values: np.ndarray
        if kind == "categorical":
            values = _as_text(series)
        elif kind == "datetime":
            values = _as_nanoseconds(series, name)
        else:
            values = _as_double(series, name)
        feeds[name] = values.reshape(-1, 1)
    return feeds


class OnnxModel:
    """A converted model in an onnxruntime session (CPU, graph optimisation on).

    Args:
        model_bytes: The ONNX graph from :func:`~modelyard.registry.onnx_convert.convert_to_onnx`.
        signature: The model's signature (inputs and ``output.task``).
        intra_op_threads: Threads inside one operator (None: onnxruntime's default).

    Raises:
        IntegrityError: The bytes are not an ONNX graph onnxruntime can load.
        ValidationError: The graph's inputs or outputs do not follow the signature.

    Example:
        >>> model = OnnxModel(data, signature)
        >>> model.predict_proba(frame)[:, 1]
    """

    def __init__(
        self, model_bytes: bytes, signature: dict[str, Any], *, intra_op_threads: int | None = None
    ) -> None:
        if not isinstance(model_bytes, bytes | bytearray | memoryview):
            raise ValidationError(f"model_bytes must be bytes, got {type(model_bytes).__name__}")
        self.signature = signature
        output = signature.get("output") if isinstance(signature, dict) else None
        self.task: str = str(output.get("task")) if isinstance(output, dict) else ""
        self._session = _session(bytes(model_bytes), intra_op_threads)
        self.input_names: list[str] = [i.name for i in self._session.get_inputs()]
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]
        self._check_graph()
        # The session's C++ run, without the Python wrapper's per-call checks (graph
        # capture, input names, value ownership: ~7 us a call, a tenth of a small
        # batch); the wrapper stays the fallback for an onnxruntime without it.
        inner = getattr(self._session, "_sess", None)
        self._run = inner.run if inner is not None and hasattr(inner, "run") else None

    @property
    def is_classifier(self) -> bool:
        """Whether the graph outputs labels and probabilities."""
        return self.output_names == _CLASSIFIER_OUTPUTS

    def _check_graph(self) -> None:
        expected = [c["name"] for c in _used_inputs(self.signature)]
        if self.input_names != expected:
            raise ValidationError(
                f"the ONNX graph's inputs {self.input_names} do not match the signature's "
                f"used columns {expected}; convert the model with this signature"
            )
        wanted = _REGRESSOR_OUTPUTS if self.task == "regression" else _CLASSIFIER_OUTPUTS
        if self.output_names != wanted:
            raise ValidationError(
                f"the ONNX graph's outputs {self.output_names} are not {wanted}, what a "
                f"{self.task or 'model of unknown task'} needs"
            )

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph on prepared inputs (see :func:`onnx_feeds`).

        Raises:
            ValidationError: onnxruntime refused the inputs (missing, wrong type or shape).
        """
        try:
            if self._run is not None and self.input_names == list(feeds):
                outputs = self._run(self.output_names, feeds, None)
            else:
                outputs = self._session.run(None, feeds)
        except Exception as exc:  # noqa: BLE001 - onnxruntime errors have no common base
            raise ValidationError(f"onnxruntime could not run the model: {exc}") from None
        return dict(zip(self.output_names, outputs, strict=True))

    def _outputs(self, data: pd.DataFrame | pa.Table) -> dict[str, np.ndarray]:
        feeds = onnx_feeds(data, self.signature)
        if next(iter(feeds.values())).shape[0] == 0:
            width = self._session.get_outputs()[-1].shape[-1]
            n = width if isinstance(width, int) else 0
            return {
                "label": np.empty(0, dtype=np.int64),
                "probabilities": np.empty((0, n), dtype=np.float32),
                "variable": np.empty((0, 1), dtype=np.float32),
            }
        return self.run(feeds)

    def predict(self, data: pd.DataFrame | pa.Table) -> np.ndarray:
        """Class codes (int64) for a classifier, float64 values for a regressor."""
        out = self._outputs(data)
        if self.is_classifier:
            return np.asarray(out["label"], dtype=np.int64)
        return np.asarray(out["variable"], dtype=np.float64).ravel()

    def predict_proba(self, data: pd.DataFrame | pa.Table) -> np.ndarray:
        """Class probabilities as float64, one column per class code.

        Raises:
            ValidationError: The model is a regressor.
        """
        if not self.is_classifier:
            raise ValidationError("predict_proba needs a classifier; this model is a regressor")
        return np.asarray(self._outputs(data)["probabilities"], dtype=np.float64)


def _session(data: bytes, intra_op_threads: int | None) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if intra_op_threads is not None:
        options.intra_op_num_threads = int(intra_op_threads)
    options.log_severity_level = 3  # errors only: no warnings on stderr per session
    try:
        return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime errors have no common base
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise IntegrityError(
            f"the bytes ({len(data)} bytes) are not an ONNX model onnxruntime can load: {first}; "
            "re-create the package with convert_to_onnx",
            size=len(data),
        ) from None
