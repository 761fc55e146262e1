"""Training: model families, cross-validated selection, Optuna tuning, ensembles, tracking.

Owns the training job (``api.train`` → ``job.run_job``): checking the data
before any compute (``prepare``), the model-family registry with default search
spaces (``families``, ``space``, ``torch_mlp``), metrics per task (``metrics``),
cross-validation (``cv``), the Optuna search in shared storage run by local or
Ray workers (``search``, ``storage``, ``executors``), ensembles (``ensembles``),
the selection rule (``selection``), AIC/BIC (``linear_criteria``) and the input
signature (``signature``). Preprocessing comes from :mod:`modelyard.features`.
:class:`TorchMLPClassifier` and :class:`TorchMLPRegressor` are exported for the ONNX
converters; importing them does not import PyTorch (only ``fit`` does; prediction is numpy).

It sits in layer L3 and uses ``modelyard.data`` (datasets) and
``modelyard.tracking`` (runs) from L2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._utils.lazy import lazy_exports

if TYPE_CHECKING:
    from modelyard.training.api import load_training_data, train
    from modelyard.training.cv import predict_scores
    from modelyard.training.families import Family, default_families, family_names, get_family
    from modelyard.training.job import SAMPLE_TARGET, Progress, TrainResult, environment
    from modelyard.training.metrics import (
        METRICS,
        Metric,
        default_metric,
        get_metric,
        metric_names,
        score_all,
    )
    from modelyard.training.prepare import Prepared, detect_task
    from modelyard.training.selection import Candidate
    from modelyard.training.spec import (
        CVSpec,
        EnsembleSpec,
        HoldoutSpec,
        SelectionSpec,
        TrainSpec,
        TuningSpec,
        parse_duration,
    )
    from modelyard.training.torch_mlp import TorchMLPClassifier, TorchMLPRegressor

__all__ = [
    "METRICS",
    "SAMPLE_TARGET",
    "CVSpec",
    "Candidate",
    "EnsembleSpec",
    "Family",
    "HoldoutSpec",
    "Metric",
    "Prepared",
    "Progress",
    "SelectionSpec",
    "TorchMLPClassifier",
    "TorchMLPRegressor",
    "TrainResult",
    "TrainSpec",
    "TuningSpec",
    "default_families",
    "default_metric",
    "detect_task",
    "environment",
    "family_names",
    "get_family",
    "get_metric",
    "load_training_data",
    "metric_names",
    "parse_duration",
    "predict_scores",
    "score_all",
    "train",
]

# Each name's module, imported on first use (see modelyard._utils.lazy).
_EXPORTS = {
    "load_training_data": "modelyard.training.api",
    "train": "modelyard.training.api",
    "predict_scores": "modelyard.training.cv",
    "Family": "modelyard.training.families",
    "default_families": "modelyard.training.families",
    "family_names": "modelyard.training.families",
    "get_family": "modelyard.training.families",
    "SAMPLE_TARGET": "modelyard.training.job",
    "Progress": "modelyard.training.job",
    "TrainResult": "modelyard.training.job",
    "environment": "modelyard.training.job",
    "METRICS": "modelyard.training.metrics",
    "Metric": "modelyard.training.metrics",
    "default_metric": "modelyard.training.metrics",
    "get_metric": "modelyard.training.metrics",
    "metric_names": "modelyard.training.metrics",
    "score_all": "modelyard.training.metrics",
    "Prepared": "modelyard.training.prepare",
    "detect_task": "modelyard.training.prepare",
    "Candidate": "modelyard.training.selection",
    "CVSpec": "modelyard.training.spec",
    "EnsembleSpec": "modelyard.training.spec",
    "HoldoutSpec": "modelyard.training.spec",
    "SelectionSpec": "modelyard.training.spec",
    "TrainSpec": "modelyard.training.spec",
    "TuningSpec": "modelyard.training.spec",
    "parse_duration": "modelyard.training.spec",
    "TorchMLPClassifier": "modelyard.training.torch_mlp",
    "TorchMLPRegressor": "modelyard.training.torch_mlp",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
