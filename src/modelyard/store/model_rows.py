"""Records of the model registry tables, and how rows become them.

Registered models, immutable versions (JSON documents kept as dicts exactly as
stored), history events, and the serving layer's deployment routes and their
change history. ``modelyard.registry`` hands these out as they are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, select

from modelyard.exceptions import ValidationError
from modelyard.store.schema import model_versions, registered_models

__all__ = [
    "MODEL_NAME_RE",
    "DeploymentChange",
    "DeploymentRoutes",
    "ModelEvent",
    "ModelVersion",
    "RegisteredModel",
    "Route",
    "change_from_row",
    "check_alias",
    "check_model_name",
    "event_from_row",
    "version_from_row",
    "version_select",
]

MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_ALIAS_RE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
RESERVED_ALIASES = frozenset({"latest"})

Route = tuple[str, int, str, float]
"""(model name, version, role, weight) of one deployment route."""


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: a name, its versions and its aliases."""

    name: str
    description: str | None
    created_at: int
    created_by: str | None
    latest_version: int | None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    """One immutable, numbered model version.

    ``lineage``: run_id, experiment, data (``"churn@1"``), dataset_hash, split
    (``{"name", "part"}`` or ``{"fraction"}``), target, train_spec, params,
    family, git_commit (or None), libraries (``{name: version}``).

    ``formats``: one entry per packaged format (``skops``, ``onnx``,
    ``onnx-int8``, ``pickle``); each has ``blob`` (SHA-256) and ``size``, or
    ``unavailable`` (the reason) instead; ONNX entries add ``parity``, every
    available one ``latency`` (``single_p50_ms`` ... ``batch_p99_ms``), the
    quantized one ``accuracy_delta`` and ``speedup``.
    """

    name: str
    version: int
    run_id: str
    status: str
    task: str
    created_at: int
    created_by: str | None
    description: str | None
    lineage: dict[str, Any]
    signature: dict[str, Any]
    metrics: dict[str, float]
    size_bytes: int
    formats: dict[str, dict[str, Any]]
    evaluation: dict[str, Any] | None = None
    gates: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def available_formats(self) -> list[str]:
        """Formats that have a blob (in the order they were packaged)."""
        return [k for k, v in self.formats.items() if "blob" in v]


@dataclass(frozen=True)
class ModelEvent:
    """One entry of a model's history: a registration, alias move or status change."""

    event_id: int
    name: str
    kind: str
    version: int | None
    alias: str | None
    from_value: str | None
    to_value: str | None
    user: str | None
    at: int
    reason: str | None


@dataclass(frozen=True)
class DeploymentRoutes:
    """What a deployment serves according to the store: its routes and sticky flag."""

    routes: tuple[Route, ...]
    sticky: bool


@dataclass(frozen=True)
class DeploymentChange:
    """One change of a deployment's routes, with what it replaced.

    ``routes`` and ``sticky`` are the deployment's state *before* the change, so
    rolling the change back restores them. ``undone_at`` is set once a rollback
    has undone it; ``rollback`` entries record the rollbacks themselves.
    """

    change_id: int
    deployment: str
    action: str
    routes: tuple[Route, ...]
    sticky: bool
    user: str | None
    created_at: int
    undone_at: int | None

    @property
    def undoable(self) -> bool:
        """Whether a rollback can still undo this change."""
        return self.undone_at is None and self.action != "rollback"


def check_model_name(name: object) -> str:
    """``name`` if it is a valid model name, else a ValidationError saying what is."""
    if not isinstance(name, str) or not MODEL_NAME_RE.fullmatch(name):
        raise ValidationError(
            f"model name {str(name)[:80]!r} is not valid: use 1 to 128 letters, digits, "
            "'_', '-' or '.', starting with a letter or digit"
        )
    return name


def check_alias(alias: object) -> str:
    """``alias`` if it is a valid alias, else a ValidationError saying what is."""
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        raise ValidationError(
            f"alias {str(alias)[:80]!r} is not valid: use 1 to 64 letters, digits, '_' or '-', "
            "starting with a letter (e.g. champion, challenger)"
        )
    if alias in RESERVED_ALIASES:
        raise ValidationError(f"alias {alias!r} is reserved: it always means the newest version")
    return alias


def version_select() -> Select[Any]:
    """Columns of a version joined with its model's name."""
    return select(registered_models.c.name, *model_versions.c).join(
        registered_models, registered_models.c.model_id == model_versions.c.model_id
    )


def _doc(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def version_from_row(row: Row[Any], aliases: tuple[str, ...] = ()) -> ModelVersion:
    """A :class:`ModelVersion` from a :func:`version_select` row."""
    m = row._mapping
    return ModelVersion(
        name=m["name"],
        version=int(m["version"]),
        run_id=m["run_id"],
        status=m["status"],
        task=m["task"],
        created_at=int(m["created_at"]),
        created_by=m["created_by"],
        description=m["description"],
        lineage=_doc(m["lineage"]),
        signature=_doc(m["signature"]),
        metrics=_doc(m["metrics"]),
        size_bytes=int(m["size_bytes"]),
        formats=_doc(m["formats"]),
        evaluation=_doc(m["evaluation"]),
        gates=_doc(m["gates"]),
        aliases=aliases,
    )


def event_from_row(row: Row[Any], name: str) -> ModelEvent:
    """A :class:`ModelEvent` from a ``model_events`` row."""
    m = row._mapping
    return ModelEvent(
        event_id=int(m["event_id"]),
        name=name,
        kind=m["kind"],
        version=m["version"],
        alias=m["alias"],
        from_value=m["from_value"],
        to_value=m["to_value"],
        user=m["user"],
        at=int(m["at"]),
        reason=m["reason"],
    )


def change_from_row(row: Row[Any]) -> DeploymentChange:
    """A :class:`DeploymentChange` from a ``deployment_changes`` row."""
    m = row._mapping
    return DeploymentChange(
        change_id=int(m["change_id"]),
        deployment=m["deployment"],
        action=m["action"],
        routes=tuple((str(n), int(v), str(r), float(w)) for n, v, r, w in json.loads(m["routes"])),
        sticky=bool(m["sticky"]),
        user=m["user"],
        created_at=int(m["created_at"]),
        undone_at=None if m["undone_at"] is None else int(m["undone_at"]),
    )
