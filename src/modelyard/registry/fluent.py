"""Module-level registry functions: ``my.register``, ``my.models.get`` / ``load`` / ...

They use one default :class:`ModelRegistry` per process, built from the
settings the first time it is needed (not at import time), or set with
:func:`connect`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard._utils.default_client import DefaultClient
from modelyard.registry.card import ModelCard
from modelyard.registry.client import ModelRegistry
from modelyard.registry.predictor import Predictor
from modelyard.registry.promotion import (
    Promotion,
    check_version_gates,
    evaluate_version,
    promote_version,
    write_model_card,
)
from modelyard.store import ModelEvent, ModelVersion, RegisteredModel

__all__ = [
    "archive",
    "card",
    "check_gates",
    "connect",
    "delete",
    "delete_alias",
    "evaluate",
    "get",
    "get_client",
    "history",
    "list_models",
    "load",
    "promote",
    "register",
    "restore",
    "search",
    "set_alias",
]

_default = DefaultClient(ModelRegistry.from_settings, ModelRegistry.close)


def connect(
    *,
    home: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
    artifacts_url: str | None = None,
    master_key: bytes | str | None = None,
    allow_pickle: bool | None = None,
) -> ModelRegistry:
    """Make (and return) the default registry for this process."""
    return _default.connect(
        home=home,
        db_url=db_url,
        artifacts_url=artifacts_url,
        master_key=master_key,
        allow_pickle=allow_pickle,
    )


def get_client() -> ModelRegistry:
    """The default registry (built from the settings on first use, again after a fork)."""
    return _default.get()


def register(run: Any, name: str, **options: Any) -> ModelVersion:
    """Register a run's model as the next version of ``name``; see :meth:`ModelRegistry.register`."""
    return get_client().register(run, name, **options)


def get(ref: str) -> ModelVersion:
    """The version ``churn``, ``churn@3`` or ``churn@champion`` names."""
    return get_client().get(ref)


def list_models() -> list[RegisteredModel]:
    """Every registered model."""
    return get_client().list_models()


def search(name: str | None = None, **filters: Any) -> list[ModelVersion]:
    """Versions by fields and metric conditions; see :meth:`ModelRegistry.search`."""
    return get_client().search(name, **filters)


def history(name: str) -> list[ModelEvent]:
    """Every registration, alias move and status change of ``name``."""
    return get_client().history(name)


def set_alias(name: str, alias: str, version: int, *, reason: str | None = None) -> int | None:
    """Point ``alias`` at ``version``; returns the version it pointed at before."""
    return get_client().set_alias(name, alias, version, reason=reason)


def delete_alias(name: str, alias: str, *, reason: str | None = None) -> int:
    """Remove ``alias``."""
    return get_client().delete_alias(name, alias, reason=reason)


def load(ref: str, *, format: str | None = None) -> Predictor:
    """A predictor (``predict`` / ``predict_proba``) for ``ref``."""
    return get_client().load(ref, format=format)


def archive(ref: str, *, reason: str | None = None) -> ModelVersion:
    """Archive a version."""
    return get_client().archive(ref, reason=reason)


def restore(ref: str, *, reason: str | None = None) -> ModelVersion:
    """Restore an archived version."""
    return get_client().restore(ref, reason=reason)


def delete(ref: str, *, reason: str | None = None) -> ModelVersion:
    """Delete a version (refused while an alias or deployment points at it)."""
    return get_client().delete(ref, reason=reason)


def evaluate(
    ref: str, *, sensitive: str | None = None, slices: Sequence[str] = (), **options: Any
) -> dict[str, Any]:
    """Evaluate ``ref`` on its holdout and store the result; see :func:`evaluate_version`."""
    return evaluate_version(get_client(), ref, sensitive=sensitive, slices=slices, **options)


def check_gates(ref: str, gates: Any) -> dict[str, Any]:
    """Check promotion gates against ``ref`` without promoting."""
    return check_version_gates(get_client(), ref, gates)


def promote(ref: str, **options: Any) -> Promotion:
    """Move ``champion`` (or ``alias=``) to ``ref`` if every gate passes; see :func:`promote_version`."""
    return promote_version(get_client(), ref, **options)


def card(ref: str, path: str | Path | None = None, **options: Any) -> ModelCard:
    """Render (and write) the model card of ``ref``."""
    return write_model_card(get_client(), ref, path, **options)
