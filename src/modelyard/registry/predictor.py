"""A loaded model version: ``predict`` and ``predict_proba`` over tables.

The runtime behind it is ONNX Runtime when the version has a parity-checked
ONNX package, else the native skops model (or, opted in, a pickle). Input is
checked against the signature first; classifiers answer in the target's own
labels.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from modelyard.exceptions import ValidationError
from modelyard.registry.signature_check import conform
from modelyard.store import ModelVersion

__all__ = ["NativeRuntime", "Predictor", "Runtime"]


class Runtime(Protocol):
    """What a predictor needs from a model format."""

    def predict(self, data: Any) -> np.ndarray:
        """Class codes (classification) or values (regression)."""
        ...

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, columns in code order."""
        ...


class NativeRuntime:
    """A fitted scikit-learn-style pipeline (from skops or pickle)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any) -> np.ndarray:
        """The model's own ``predict``."""
        return np.asarray(self.model.predict(data))

    def predict_proba(self, data: Any) -> np.ndarray:
        """The model's own ``predict_proba``."""
        return np.asarray(self.model.predict_proba(data), dtype=np.float64)


class Predictor:
    """Predictions of one registered model version.

    Attributes:
        version: The :class:`ModelVersion` record (lineage, metrics, formats).
        format: The format serving the predictions (``onnx``, ``skops``, ...).
        classes: The class labels (None for a regression model).

    Example:
        >>> model = my.models.load("churn@champion")
        >>> model.predict_proba(frame)[:, 1]
    """

    def __init__(self, version: ModelVersion, runtime: Runtime, format: str) -> None:
        self.version = version
        self.runtime = runtime
        self.format = format
        classes = version.signature.get("output", {}).get("classes")
        self.classes: list[Any] | None = list(classes) if classes is not None else None

    def __repr__(self) -> str:
        return f"Predictor({self.version.ref}, format={self.format!r}, task={self.version.task!r})"

    @property
    def task(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        return self.version.task

    def predict(self, data: Any, *, extra: str = "error") -> np.ndarray:
        """Predicted labels (classification) or values (regression), one per row.

        Args:
            data: A DataFrame, a pyarrow Table, or a list of row dicts.
            extra: ``error`` refuses columns the model does not know, ``ignore`` drops them.

        Raises:
            SignatureError: Missing or extra columns, or values of the wrong type.
        """
        frame = conform(data, self.version.signature, extra=extra)
        if len(frame) == 0:
            return np.array([], dtype=object if self.classes is not None else np.float64)
        pred = self.runtime.predict(frame)
        if self.classes is None:
            return np.asarray(pred, dtype=np.float64).reshape(-1)
        return np.asarray(self.classes, dtype=object)[np.asarray(pred).astype(np.int64)]

    def predict_proba(self, data: Any, *, extra: str = "error") -> np.ndarray:
        """Class probabilities (one column per class, in the order of ``classes``).

        Raises:
            ValidationError: The model is a regression model.
            SignatureError: As for :meth:`predict`.
        """
        if self.classes is None:
            raise ValidationError(
                f"{self.version.ref} is a regression model: it has no probabilities; use predict()"
            )
        frame = conform(data, self.version.signature, extra=extra)
        if len(frame) == 0:
            return np.empty((0, len(self.classes)))
        return np.asarray(self.runtime.predict_proba(frame), dtype=np.float64)
