"""Serving: the inference server, deployments with canary and shadow, batch and stream.

Owns the hot path (``codec``: JSON and Open Inference Protocol tensors straight
to numpy feeds, checked against the signature; ``runtime``: ONNX Runtime
sessions, or the native model when a version has no parity-checked ONNX
package), adaptive batching (``batching``), deployments and traffic splitting
(``deployments``, ``manager`` with hot swap), the ASGI app (``app``, ``admin``,
``http``, ``openapi``), metrics (``metrics``), the prediction and feedback logs
(``prediction_log``) and running it (``server``).

It sits in layer L4 and uses :mod:`modelyard.registry` for versions and blobs.
"""

from __future__ import annotations

from modelyard.serving.app import ServerLimits, ServerState, build_app
from modelyard.serving.batching import AdaptiveBatcher
from modelyard.serving.deployments import (
    BatchingSpec,
    DeploymentSpec,
    ServeSpec,
    Variant,
    parse_serve_spec,
    spec_for_models,
)
from modelyard.serving.errors import ModelNotReady, Overloaded, PayloadTooLarge, RequestTimeout
from modelyard.serving.manager import ModelManager
from modelyard.serving.runtime import Prediction, ServedModel, load_served_model
from modelyard.serving.server import ServeOptions, make_app, serve

__all__ = [
    "AdaptiveBatcher",
    "BatchingSpec",
    "DeploymentSpec",
    "ModelManager",
    "ModelNotReady",
    "Overloaded",
    "PayloadTooLarge",
    "Prediction",
    "RequestTimeout",
    "ServeOptions",
    "ServeSpec",
    "ServedModel",
    "ServerLimits",
    "ServerState",
    "Variant",
    "build_app",
    "load_served_model",
    "make_app",
    "parse_serve_spec",
    "serve",
    "spec_for_models",
]
