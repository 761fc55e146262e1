"""A registered model version loaded for serving: feeds in, a :class:`Prediction` out.

The hot path runs ONNX Runtime on arrays that follow the graph convention of
:mod:`modelyard.registry.onnx_convert` (``Feeds``: one ``[N, 1]`` array per used
signature column: float64 for numeric and boolean columns, str objects for categorical
ones, int64 nanoseconds for datetimes). :mod:`modelyard.serving.codec` builds them from
requests without pandas.

Versions without a parity-checked ONNX package are served by their native model
(skops): the same feeds are turned back into the DataFrame the pipeline was trained on,
and :attr:`ServedModel.runtime_note` says why the slow path is in use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.registry import ModelVersion
from modelyard.registry.onnx_model import EMPTY_LEVEL, OnnxModel
from modelyard.serving._blocks import BlockFeeds
from modelyard.serving._feed_plan import FeedPlan
from modelyard.serving._model_source import ModelSource
from modelyard.serving._values import INT64_MIN, iso_to_nanoseconds, to_text

__all__ = [
    "Feeds",
    "ModelRuntime",
    "NativeRuntime",
    "OnnxRuntime",
    "Prediction",
    "ServedModel",
    "load_served_model",
]

Feeds = Mapping[str, np.ndarray]
"""Graph inputs: one ``[N, 1]`` array per used signature column, named by the column."""


@dataclass(frozen=True)
class Prediction:
    """What one model call answered, row-aligned with its feeds.

    Attributes:
        codes: Class codes (int64 ``[N]``; index into ``ServedModel.classes``), classifiers.
        probabilities: Class probabilities (float32 or float64 ``[N, k]``), classifiers.
        values: Predicted values (float64 ``[N]``), regressors.
    """

    codes: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def rows(self) -> int:
        """How many rows were predicted."""
        for part in (self.codes, self.values, self.probabilities):
            if part is not None:
                return int(part.shape[0])
        return 0

    def slice(self, start: int, stop: int) -> Prediction:
        """Rows ``start:stop`` (what one request of a batch gets back)."""
        codes, probabilities, values = self.codes, self.probabilities, self.values
        return Prediction(
            None if codes is None else codes[start:stop],
            None if probabilities is None else probabilities[start:stop],
            None if values is None else values[start:stop],
        )

    @staticmethod
    def concat(parts: Sequence[Prediction]) -> Prediction:
        """The rows of ``parts`` one after another (the answer to a batch of feeds).

        Raises:
            ValidationError: ``parts`` is empty or mixes classifier and regressor answers.
        """
        if not parts:
            raise ValidationError("Prediction.concat needs at least one prediction")
        kinds = {tuple(p is None for p in part._parts()) for part in parts}
        if len(kinds) > 1:
            raise ValidationError("cannot concatenate predictions of different kinds of model")
        columns = zip(*(part._parts() for part in parts), strict=True)
        return Prediction(*(None if c[0] is None else np.concatenate(c) for c in columns))

    def _parts(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        return self.codes, self.probabilities, self.values


class ModelRuntime(Protocol):
    """What runs a model on feeds: ONNX Runtime, or the native pipeline."""

    def infer(self, feeds: Feeds, rows: int) -> Prediction:
        """Predict ``rows`` rows (at least one) from complete feeds."""
        ...


class OnnxRuntime:
    """An onnxruntime session (thread-safe: ``run`` may be called from many threads)."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    def infer(self, feeds: Feeds, rows: int) -> Prediction:
        arrays = feeds.as_dict() if type(feeds) is BlockFeeds else feeds
        out = self.model.run({name: arrays[name] for name in self.model.input_names})
        if self.model.is_classifier:
            return Prediction(
                codes=np.asarray(out["label"], dtype=np.int64).reshape(-1),
                probabilities=np.asarray(out["probabilities"]),
            )
        return Prediction(values=np.asarray(out["variable"], dtype=np.float64).reshape(-1))


class NativeRuntime:
    """A fitted native pipeline; calls are serialised (libraries promise no thread safety)."""

    def __init__(self, model: Any, signature: dict[str, Any], classifier: bool) -> None:
        self.model = model
        self.signature = signature
        self.classifier = classifier
        self._lock = threading.Lock()

    def infer(self, feeds: Feeds, rows: int) -> Prediction:
        frame = _frame_from_feeds(feeds, self.signature, rows)
        with self._lock:
            if not self.classifier:
                values = np.asarray(self.model.predict(frame), dtype=np.float64).reshape(-1)
                return Prediction(values=values)
            codes = np.asarray(self.model.predict(frame)).astype(np.int64).reshape(-1)
            probabilities = np.asarray(self.model.predict_proba(frame), dtype=np.float64)
        return Prediction(codes=codes, probabilities=probabilities)


def _frame_from_feeds(feeds: Feeds, signature: dict[str, Any], rows: int) -> Any:
    """The DataFrame the native pipeline was trained on, from graph-convention feeds."""
    import pandas as pd  # the native path only: the ONNX hot path never needs pandas

    columns: dict[str, Any] = {}
    for column in signature["inputs"]:
        name, kind = column["name"], column.get("kind")
        if not column.get("used", True):
            columns[name] = pd.Series([None] * rows, dtype=object)
            continue
        values = np.asarray(feeds[name]).reshape(-1)
        if kind == "categorical":
            text = values.astype(object)
            missing = text == ""
            text[text == EMPTY_LEVEL] = ""
            text[missing] = None
            columns[name] = pd.Series(text, dtype=object)
        elif kind == "datetime":
            stamps = pd.Series(values.astype(np.int64).view("datetime64[ns]"))  # INT64_MIN: NaT
            if "UTC" in str(column.get("dtype", "")):
                stamps = stamps.dt.tz_localize("UTC")
            columns[name] = stamps
        else:  # numeric and boolean: float64 with NaN, what the pipeline's AsFloat makes
            columns[name] = pd.Series(values.astype(np.float64))
    return pd.DataFrame(columns)


class ServedModel:
    """One model version ready to predict from feeds.

    Attributes:
        name: The registered model's name.
        version: The version number.
        ref: ``name@version``.
        task: ``binary``, ``multiclass`` or ``regression``.
        classes: Class labels in code order (None for a regressor).
        signature: The version's signature (inputs and output).
        format: What runs it: ``onnx``, ``onnx-int8``, ``skops``, ...
        runtime_note: Which runtime serves the model and why, for metadata and logs.
        runtime: What runs the model on feeds.
        plan: The fast path from JSON rows to feeds (see :mod:`.codec`).

    Example:
        >>> model = load_served_model(registry, "churn@champion", intra_op_threads=2)
        >>> model.warmup()
        >>> model.infer(feeds).probabilities[:, 1]
    """

    def __init__(
        self, version: ModelVersion, runtime: ModelRuntime, *, format: str, runtime_note: str
    ) -> None:
        self.name = version.name
        self.version = version.version
        self.ref = version.ref
        self.task = version.task
        self.signature = version.signature
        classes = self.signature.get("output", {}).get("classes")
        self.classes: list[Any] | None = list(classes) if classes is not None else None
        # Integer classes answer as a numpy lookup (see codec.encode_v1), kept once here.
        self.int_classes: np.ndarray | None = None
        if self.classes is not None and set(map(type, self.classes)) == {int}:
            self.int_classes = np.asarray(self.classes, dtype=np.int64)
        self.format = format
        self.runtime_note = runtime_note
        self.runtime = runtime
        self._used = [c for c in self.signature["inputs"] if c.get("used", True)]
        self.plan = FeedPlan(self.signature)

    def __repr__(self) -> str:
        return f"ServedModel({self.ref}, format={self.format!r}, task={self.task!r})"

    @property
    def is_classifier(self) -> bool:
        """Whether the model answers class codes and probabilities."""
        return self.classes is not None

    def infer(self, feeds: Feeds) -> Prediction:
        """Predict every row of ``feeds`` (thread-safe).

        Args:
            feeds: One ``[N, 1]`` array per used signature column (extra keys are ignored).

        Raises:
            ValidationError: A used column is missing from ``feeds``, the arrays differ in
                length, or the runtime refused them.
        """
        if isinstance(feeds, BlockFeeds) and feeds.layout is self.plan.layout:
            rows = feeds.rows  # built by this model's plan: complete and aligned
            return self.runtime.infer(feeds, rows) if rows else self._empty()
        missing = [c["name"] for c in self._used if c["name"] not in feeds]
        if missing:
            raise ValidationError(
                f"the feeds lack the used column(s) {missing} of {self.ref}; build them "
                "with modelyard.serving.codec",
                missing=missing,
            )
        lengths = {int(np.shape(feeds[c["name"]])[0]) for c in self._used}
        if len(lengths) > 1:
            raise ValidationError(f"the feeds of {self.ref} differ in length: {sorted(lengths)}")
        rows = lengths.pop() if lengths else 0
        if rows == 0:
            return self._empty()
        return self.runtime.infer(feeds, rows)

    def _empty(self) -> Prediction:
        if self.classes is None:
            return Prediction(values=np.empty(0, dtype=np.float64))
        return Prediction(
            codes=np.empty(0, dtype=np.int64),
            probabilities=np.empty((0, len(self.classes)), dtype=np.float32),
        )

    def warmup(self) -> Prediction:
        """Predict one synthetic row (first level / minimum of each column) to load lazily
        initialised state before traffic arrives; returns that prediction."""
        return self.infer(_synthetic_feeds(self.signature))


def _synthetic_feeds(signature: dict[str, Any]) -> Feeds:
    """One plausible row: each categorical column's first level, each other column's
    minimum (missing where the signature records none)."""
    feeds: dict[str, np.ndarray] = {}
    for column in signature["inputs"]:
        if not column.get("used", True):
            continue
        kind, low = column.get("kind"), column.get("min")
        value: np.ndarray
        if kind == "categorical":
            value = to_text([(column.get("levels") or [None])[0]])
        elif kind == "datetime":
            stamp = iso_to_nanoseconds(str(low)) if low is not None else None
            value = np.array([INT64_MIN if stamp is None else stamp], dtype=np.int64)
        else:
            value = np.array([np.nan if low is None else float(low)], dtype=np.float64)
        feeds[column["name"]] = value.reshape(-1, 1)
    return feeds


def load_served_model(
    registry: ModelSource,
    ref: str,
    *,
    intra_op_threads: int = 1,
    format: str | None = None,
) -> ServedModel:
    """Load the version ``ref`` names for serving.

    Args:
        registry: Where the version and its blobs live: a
            :class:`~modelyard.registry.ModelRegistry`, or any
            :class:`~modelyard.serving._model_source.ModelSource` (a batch job's package
            of one version, on a worker that has no registry).
        ref: ``churn@champion``, ``churn@3``, ``churn``.
        intra_op_threads: ONNX Runtime threads inside one operator; size it so that
            workers x threads does not exceed the cores (1 for one worker per core).
        format: ``onnx``, ``onnx-int8`` or the native format; default: ``onnx`` when the
            version has a parity-checked package, else the native model.

    Raises:
        NotFoundError: No such version, or the requested format is not packaged.
        IntegrityError: A blob failed its hash check or does not load.
        UnsafeFormatError: The native model is a pickle and pickles are not allowed.
    """
    if type(intra_op_threads) is not int or intra_op_threads < 1:
        raise ValidationError(
            f"intra_op_threads must be a whole number >= 1, got {intra_op_threads!r:.40}"
        )
    version = registry.get(ref)
    onnx_entry = version.formats.get("onnx", {})
    chosen = format or ("onnx" if "blob" in onnx_entry else _native_format(version))
    entry = version.formats.get(chosen, {})
    if "blob" not in entry or not (chosen.startswith("onnx") or chosen == _native_format(version)):
        why = f" ({entry['unavailable']})" if "unavailable" in entry else ""
        raise NotFoundError(
            f"{version.ref} has no {chosen} package{why}; available: "
            f"{', '.join(version.available_formats()) or 'none'}",
            resource="model format",
            identifier=f"{version.ref}:{chosen}",
        )
    if chosen.startswith("onnx"):
        return _onnx_served(registry, version, chosen, intra_op_threads)
    if format is None:
        why = onnx_entry.get("unavailable", "the version has no onnx package")
        note = f"native runtime ({chosen}): onnx unavailable: {why}"
    else:
        note = f"native runtime ({chosen}): {chosen} requested"
    native = registry.load_native(version.ref)
    runtime = NativeRuntime(native, version.signature, version.task != "regression")
    return ServedModel(version, runtime, format=chosen, runtime_note=note)


def _onnx_served(
    registry: ModelSource, version: ModelVersion, chosen: str, intra_op_threads: int
) -> ServedModel:
    entry = version.formats[chosen]
    session = OnnxModel(
        registry.blobs.get_bytes(entry["blob"]),
        version.signature,
        intra_op_threads=intra_op_threads,
    )
    diff = (entry.get("parity") or {}).get("max_abs_diff")
    checked = f"parity-checked, max abs diff {diff:.2g}" if diff is not None else "no parity record"
    note = f"onnx runtime ({chosen}): {checked}"
    return ServedModel(version, OnnxRuntime(session), format=chosen, runtime_note=note)


def _native_format(version: ModelVersion) -> str:
    return next((f for f in version.formats if not f.startswith("onnx")), "skops")
