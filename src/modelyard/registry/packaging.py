"""Packaging a model version: the native file, ONNX (parity-checked), int8, latency.

The native file (skops, or an opted-in pickle) is the blob the run logged; it
is not copied. ONNX is converted from the loaded pipeline and kept only when it
agrees with the native model on the sample rows; otherwise the version records
why ONNX is unavailable, and serving uses the native runtime. Every kept format
gets a latency profile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelyard.artifacts import BlobStore
from modelyard.registry.latency import profile_latency
from modelyard.registry.onnx_convert import OnnxUnavailable, convert_to_onnx
from modelyard.registry.onnx_model import OnnxModel
from modelyard.registry.parity import check_parity
from modelyard.registry.predictor import NativeRuntime
from modelyard.registry.quantize import NothingToQuantize, quantize_onnx
from modelyard.registry.signature_check import conform

__all__ = ["PackageOptions", "Packaged", "package_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageOptions:
    """Which optional packages to build at registration."""

    onnx: bool = True
    quantize: bool = False
    latency: bool = True


@dataclass
class Packaged:
    """The formats of a version (see :class:`ModelVersion`) and their total size."""

    formats: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        """The native file's size: what the version weighs as trained."""
        native = next((v for k, v in self.formats.items() if not k.startswith("onnx")), {})
        return int(native.get("size", 0))


def package_model(
    model: Any,
    *,
    native: tuple[str, str, int],
    signature: dict[str, Any],
    task: str,
    sample: pd.DataFrame | None,
    sample_target: np.ndarray | None = None,
    blobs: BlobStore,
    options: PackageOptions = PackageOptions(),
    on_step: Callable[[str], None] | None = None,
) -> Packaged:
    """Build the formats of one version.

    Args:
        model: The loaded native pipeline.
        native: (format, blob SHA-256, size) of the native file.
        signature: The input signature.
        task: ``binary``, ``multiclass`` or ``regression``.
        sample: Rows for the parity check and the latency profile (None: no
            ONNX, since parity cannot be shown).
        sample_target: The sample's true targets (encoded), for the int8
            package's accuracy delta.
        blobs: Where ONNX packages are stored.
        options: Optional packages.
        on_step: Called with a short description before each step.
    """
    step = on_step or (lambda _msg: None)
    fmt, sha, size = native
    packaged = Packaged({fmt: {"blob": sha, "size": size}})
    rows = (
        None if sample is None or len(sample) == 0 else conform(sample, signature, extra="ignore")
    )
    runtimes: dict[str, Callable[[pd.DataFrame], Any]] = {fmt: _scorer(NativeRuntime(model), task)}
    if not options.onnx:
        packaged.formats["onnx"] = {"unavailable": "not built: registered with onnx=False"}
    else:
        step("converting to ONNX and checking parity")
        onnx_model = _onnx(model, signature, task, rows, blobs, packaged)
        if onnx_model is not None:
            runtimes["onnx"] = _scorer(onnx_model, task)
            if options.quantize and rows is not None:
                step("quantizing the ONNX package to int8")
                quantized = _quantized(
                    model, onnx_model, signature, task, (rows, sample_target), blobs, packaged
                )
                if quantized is not None:
                    runtimes["onnx-int8"] = _scorer(quantized, task)
    if options.latency and rows is not None:
        for name, predict in runtimes.items():
            step(f"profiling {name} latency")
            packaged.formats[name]["latency"] = profile_latency(predict, rows)
    return packaged


def _scorer(runtime: Any, task: str) -> Callable[[pd.DataFrame], Any]:
    scorer: Callable[[pd.DataFrame], Any] = (
        runtime.predict if task == "regression" else runtime.predict_proba
    )
    return scorer


def _onnx(
    model: Any,
    signature: dict[str, Any],
    task: str,
    rows: pd.DataFrame | None,
    blobs: BlobStore,
    packaged: Packaged,
) -> OnnxModel | None:
    if rows is None:
        packaged.formats["onnx"] = {
            "unavailable": "no sample rows to check parity on (the run logged no "
            "model/holdout_sample.parquet)"
        }
        return None
    try:
        data = convert_to_onnx(model, signature)
        onnx_model = OnnxModel(data, signature)
    except OnnxUnavailable as exc:
        packaged.formats["onnx"] = {"unavailable": exc.reason}
        return None
    parity = check_parity(model, onnx_model, rows, task)
    if not parity.ok:
        packaged.formats["onnx"] = {
            "unavailable": f"parity check failed: {parity.reason}",
            "parity": parity.to_dict(),
        }
        return None
    ref = blobs.put_bytes(data)
    packaged.formats["onnx"] = {"blob": ref.sha256, "size": ref.size, "parity": parity.to_dict()}
    return onnx_model


def _quantized(
    model: Any,
    onnx_model: OnnxModel,
    signature: dict[str, Any],
    task: str,
    sample: tuple[pd.DataFrame, np.ndarray | None],
    blobs: BlobStore,
    packaged: Packaged,
) -> OnnxModel | None:
    """The int8 package, kept only with its accuracy delta and speed-up measured."""
    rows, target = sample
    if target is None:
        packaged.formats["onnx-int8"] = {
            "unavailable": "no sample targets to measure the accuracy delta on"
        }
        return None
    try:
        data = quantize_onnx(blobs.get_bytes(packaged.formats["onnx"]["blob"]))
    except NothingToQuantize as exc:
        packaged.formats["onnx-int8"] = {"unavailable": str(exc)}
        return None
    quantized = OnnxModel(data, signature)
    delta = check_parity(model, quantized, rows, task)
    base_ms = profile_latency(_scorer(onnx_model, task), rows)["batch_p50_ms"]
    int8_ms = profile_latency(_scorer(quantized, task), rows)["batch_p50_ms"]
    ref = blobs.put_bytes(data)
    packaged.formats["onnx-int8"] = {
        "blob": ref.sha256,
        "size": ref.size,
        "accuracy_metric": "r2" if task == "regression" else "accuracy",
        "accuracy_delta": _score(quantized, rows, target, task)
        - _score(onnx_model, rows, target, task),
        "changed_answers": _changed(onnx_model, quantized, rows, task),
        "max_abs_diff": delta.max_abs_diff,
        "speedup": round(base_ms / int8_ms, 3) if int8_ms > 0 else None,
    }
    return quantized


def _score(model: OnnxModel, rows: pd.DataFrame, target: np.ndarray, task: str) -> float:
    """Accuracy (classification) or R² (regression) on the sample."""
    pred = np.asarray(model.predict(rows)).ravel()
    if task == "regression":
        y = np.asarray(target, dtype=np.float64)
        total = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - float(np.sum((y - pred) ** 2)) / total if total > 0 else 0.0
    return float(np.mean(pred.astype(np.int64) == np.asarray(target).astype(np.int64)))


def _changed(base: OnnxModel, quantized: OnnxModel, rows: pd.DataFrame, task: str) -> float:
    """Share of rows whose answer changed (classification) or mean relative change."""
    a, b = base.predict(rows), quantized.predict(rows)
    if task == "regression":
        a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
        return float(np.mean(np.abs(a - b) / np.maximum(1.0, np.abs(a))))
    return float(np.mean(np.asarray(a).ravel() != np.asarray(b).ravel()))
