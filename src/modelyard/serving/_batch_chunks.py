"""One chunk of batch inference: an Arrow table in, the output columns out.

The same :class:`ChunkPredictor` runs in the driver (``executor="local"``) and inside
each Ray actor, so both executors write identical files.

Output columns: the kept input columns (an id column, or every input), then
``prediction`` (class labels, or values for a regressor) and, for a classifier, one
``proba_<class>`` column per class, in the order of ``classes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.exceptions import NotFoundError, SignatureError, ValidationError
from modelyard.registry.onnx_model import onnx_feeds
from modelyard.serving.runtime import Feeds, ServedModel, load_served_model
from modelyard.store import ModelVersion

__all__ = ["ChunkPredictor", "ModelPackage", "output_names"]

PREDICTION = "prediction"


def output_names(model: ServedModel | ModelPackage) -> list[str]:
    """The prediction columns ``model`` adds: ``prediction`` and ``proba_<class>``."""
    classes = model.classes
    return [PREDICTION, *(f"proba_{label}" for label in classes or [])]


@dataclass(frozen=True)
class ModelPackage:
    """What a remote worker needs to rebuild a :class:`ServedModel` (picklable).

    Attributes:
        version: The version record (name, number, task, signature).
        format: The format that serves it (``onnx``, ``skops``, ...).
        runtime_note: Which runtime serves it and why.
        onnx: The ONNX graph, for an ONNX format.
        native: The fitted native pipeline, otherwise.
    """

    version: ModelVersion
    format: str
    runtime_note: str
    onnx: bytes | None = None
    native: Any = None

    @property
    def classes(self) -> list[Any] | None:
        """The class labels in code order (None for a regressor)."""
        classes = self.version.signature.get("output", {}).get("classes")
        return list(classes) if classes is not None else None

    def load(self, intra_op_threads: int = 1) -> ServedModel:
        """The served model, built where this runs (by ``load_served_model``, as in the
        driver, from the files this package carries instead of a registry)."""
        model = load_served_model(
            _PackageSource(self),
            self.version.ref,
            intra_op_threads=intra_op_threads,
            format=self.format,
        )
        model.runtime_note = self.runtime_note  # why the driver chose this format
        return model


class _PackageSource:
    """The one version a :class:`ModelPackage` carries, read like a registry
    (a :class:`~modelyard.serving._model_source.ModelSource`)."""

    def __init__(self, package: ModelPackage) -> None:
        self._package = package

    @property
    def blobs(self) -> _PackageSource:
        return self

    def get(self, ref: str, /) -> ModelVersion:
        version = self._package.version
        if ref != version.ref:
            raise NotFoundError(
                f"this model package holds {version.ref}, not {ref}",
                resource="model version",
                identifier=ref,
            )
        return version

    def load_native(self, ref: str, /) -> Any:
        self.get(ref)  # the same check of the ref
        return self._package.native

    def get_bytes(self, sha256: str, /) -> bytes:
        package = self._package
        blob = package.version.formats.get(package.format, {}).get("blob")
        if package.onnx is None or sha256 != blob:
            raise NotFoundError(
                f"this model package of {package.version.ref} holds no blob {sha256}",
                resource="blob",
                identifier=sha256,
            )
        return package.onnx


class ChunkPredictor:
    """Predicts chunks with one model and lays out the output columns.

    Args:
        model: The served model.
        keep: Input columns copied to the output, before the predictions.
    """

    def __init__(self, model: ServedModel, keep: list[str]) -> None:
        self.model = model
        self.keep = keep
        self._labels = _label_array(model.classes) if model.classes is not None else None
        self._numeric = [
            c["name"]
            for c in model.signature["inputs"]
            if c.get("used", True) and c.get("kind") in ("numeric", "boolean")
        ]

    def __call__(self, table: pa.Table, offset: int = 0) -> pa.Table:
        """The output rows for ``table``, whose first row is row ``offset`` of the input.

        Raises:
            SignatureError: A column holds values its kind cannot take (the message
                names the column and the rows of the chunk).
        """
        feeds = self._feeds(table, offset)
        prediction = self.model.infer(feeds)
        columns: dict[str, pa.Array | pa.ChunkedArray] = {n: table.column(n) for n in self.keep}
        if self._labels is None:
            columns[PREDICTION] = pa.array(prediction.values, pa.float64())
        else:
            codes = np.asarray(prediction.codes, dtype=np.int64)
            columns[PREDICTION] = self._labels.take(pa.array(codes))
            probabilities = np.asarray(prediction.probabilities, dtype=np.float64)
            for index, name in enumerate(output_names(self.model)[1:]):
                columns[name] = pa.array(probabilities[:, index], pa.float64())
        return pa.table(columns)

    def _feeds(self, table: pa.Table, offset: int) -> Feeds:
        rows = f"rows {offset:,} to {offset + table.num_rows - 1:,}"
        try:
            feeds = onnx_feeds(table, self.model.signature)
        except ValidationError as exc:
            column = str(exc.details.get("column", "?"))
            raise SignatureError(
                f"the input does not match the signature of {self.model.ref} in {rows}: {exc}",
                missing=[],
                extra=[],
                conflicts={column: str(exc)},
            ) from None
        for name in self._numeric:
            infinite = np.isinf(feeds[name])
            if infinite.any():
                first = offset + int(np.flatnonzero(infinite.reshape(-1))[0])
                raise SignatureError(
                    f"column {name!r} of the input holds infinity (first at row {first:,}, "
                    f"{int(infinite.sum()):,} in {rows}); {self.model.ref} takes finite "
                    "numbers or missing values: replace it",
                    missing=[],
                    extra=[],
                    conflicts={name: "expected finite numbers, got infinity"},
                )
        return feeds


def _label_array(classes: list[Any]) -> pa.Array:
    try:
        return pa.array(classes)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # labels of mixed types: their text
        return pa.array([str(label) for label in classes], pa.string())
