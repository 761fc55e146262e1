"""The model registry: register runs as versions, find them, move aliases, load them.

Evaluation, gates and promotion live in :mod:`modelyard.registry.promotion`;
they work on a :class:`ModelRegistry`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from modelyard.artifacts import BlobStore
from modelyard.config import Settings, load_settings
from modelyard.data import DataClient
from modelyard.exceptions import NotFoundError, UnsafeFormatError, ValidationError
from modelyard.registry.lineage import read_run_model, require_run
from modelyard.registry.native import PICKLE_HINT, load_pickle, load_skops
from modelyard.registry.onnx_model import OnnxModel
from modelyard.registry.predictor import NativeRuntime, Predictor, Runtime
from modelyard.registry.refs import ModelRef, parse_model_ref
from modelyard.store import (
    ModelEvent,
    ModelStore,
    ModelVersion,
    RegisteredModel,
    Run,
    check_model_name,
)
from modelyard.tracking import TrackingClient

__all__ = ["FORMATS", "ModelRegistry"]

FORMATS = ("onnx", "onnx-int8", "skops", "pickle", "joblib")
_WHERE_RE = re.compile(
    r"\s*(?:metrics\.)?([A-Za-z_][\w.\-]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class ModelRegistry:
    """Registered models over the metadata store, the blob store and tracking.

    Args:
        store: The registry tables.
        blobs: Where model files live (the run's blobs; ONNX packages added here).
        tracking: To read the runs being registered.
        data: To resolve dataset versions (lineage hashes, evaluation data).
        user: Recorded on every change.
        allow_pickle: Whether pickled models may be registered and loaded.

    Example:
        >>> registry = ModelRegistry.from_settings(load_settings())
        >>> version = registry.register(result.run_id, name="churn")
        >>> registry.set_alias("churn", "champion", version.version)
        >>> registry.load("churn@champion").predict(frame)
    """

    def __init__(
        self,
        store: ModelStore,
        blobs: BlobStore,
        tracking: TrackingClient,
        *,
        data: DataClient | None = None,
        user: str = "unknown",
        allow_pickle: bool = False,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.tracking = tracking
        self.data = data
        self.user = user
        self.allow_pickle = allow_pickle

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ModelRegistry:
        """A registry on the database and artifact store the settings name."""
        settings = settings or load_settings()
        return cls(
            ModelStore(settings.db_url),
            BlobStore(settings.artifacts_url, settings.master_key),
            TrackingClient.from_settings(settings),
            data=DataClient.from_settings(settings),
            user=settings.user,
            allow_pickle=settings.allow_pickle,
        )

    def close(self) -> None:
        """Release connections."""
        self.store.close()
        self.tracking.close()
        if self.data is not None:
            self.data.close()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- registering -----------------------------------------------------------
    def register(
        self,
        run: Run | str | Any,
        name: str,
        *,
        description: str | None = None,
        quantize: bool = False,
        onnx: bool = True,
        on_step: Callable[[str], None] | None = None,
    ) -> ModelVersion:
        """Register the model of a tracked run as the next version of ``name``.

        Args:
            run: A run id, a :class:`Run`, or anything with a ``run_id`` (a
                ``TrainResult``).
            name: The registered model's name (created on first use).
            description: Free text kept on the version.
            quantize: Also build an int8 ONNX package (with its measured accuracy
                delta and speed-up).
            onnx: Build the ONNX package (parity-checked against the native model).
            on_step: Called with a short description before each packaging step.

        Raises:
            NotFoundError: No such run.
            ValidationError: The run has no model or signature, or ``name`` is invalid.
            UnsafeFormatError: The run's model is a pickle and pickles are not allowed.
        """
        run_id = run if isinstance(run, str) else getattr(run, "run_id", None)
        if run_id is None and isinstance(run, Run):
            run_id = run.info.run_id
        if not isinstance(run_id, str):
            raise ValidationError(f"cannot register {type(run).__name__}: pass a run id or a Run")
        # Packaging needs ONNX and the converters: loaded by registering, not by serving.
        from modelyard.registry.packaging import PackageOptions, package_model

        check_model_name(name)  # before any packaging work, which leaves blobs
        found = read_run_model(self.tracking, require_run(self.tracking, run_id))
        dataset_hash = self._dataset_hash(found.lineage.get("data"))
        step = on_step or (lambda _msg: None)
        step(f"loading the {found.format} model")
        model = self._load_native(found.format, found.artifact.blob)
        packaged = package_model(
            model,
            native=(found.format, found.artifact.blob, found.artifact.size),
            signature=found.signature,
            task=found.task,
            sample=found.sample,
            sample_target=found.sample_target,
            blobs=self.blobs,
            options=PackageOptions(onnx=onnx, quantize=quantize),
            on_step=step,
        )
        lineage = dict(found.lineage)
        lineage["dataset_hash"] = dataset_hash
        return self.store.create_version(
            name,
            {
                "run_id": run_id,
                "task": found.task,
                "lineage": lineage,
                "signature": found.signature,
                "metrics": found.metrics,
                "size_bytes": packaged.size_bytes,
                "formats": packaged.formats,
                "description": description,
            },
            created_by=self.user,
        )

    def _dataset_hash(self, ref: str | None) -> str | None:
        if not ref or ref == "dataframe" or self.data is None:
            return None
        try:
            return self.data.get(ref).content_hash
        except (NotFoundError, ValidationError):  # a file path or URL, not a dataset
            return None

    # -- reading ---------------------------------------------------------------
    def get(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``ref`` names: ``churn``, ``churn@3``, ``churn@champion``.

        Raises:
            NotFoundError: No such model, version or alias (the message lists what exists).
        """
        parsed = parse_model_ref(ref)
        if parsed.alias is not None:
            return self.store.resolve_alias(parsed.name, parsed.alias)
        return self.store.get_version(parsed.name, parsed.version)

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases."""
        return self.store.list_models()

    def search(
        self,
        name: str | None = None,
        *,
        status: str | None = None,
        task: str | None = None,
        run_id: str | None = None,
        where: str | Sequence[str] = (),
        order_by: str | None = None,
        max_results: int | None = None,
    ) -> list[ModelVersion]:
        """Versions filtered by fields and metric conditions, newest first.

        Args:
            where: Conditions on recorded metrics, e.g. ``"roc_auc >= 0.8"``;
                several must all hold. A version without the metric does not match.
            order_by: ``"roc_auc DESC"`` / ``"rmse ASC"`` / ``"version"``.
            max_results: At most this many versions.
        """
        conditions = [_parse_where(w) for w in ([where] if isinstance(where, str) else where)]
        scope = self.store.list_versions(name, status=status, task=task, run_id=run_id)
        keys = [c[0] for c in conditions]
        if order_by and order_by.split()[0] != "version":
            keys.append(order_by.split()[0].removeprefix("metrics."))
        _check_metric_names(keys, scope)
        versions = [v for v in scope if all(_holds(v, c) for c in conditions)]
        if order_by:
            versions = _ordered(versions, order_by)
        return versions[:max_results] if max_results is not None else versions

    def history(self, name: str) -> list[ModelEvent]:
        """Every registration, alias move and status change of ``name``, oldest first."""
        return self.store.history(name)

    # -- aliases and status ----------------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int, *, reason: str | None = None
    ) -> int | None:
        """Point ``alias`` at ``version`` (atomically); returns the previous version."""
        return self.store.set_alias(name, alias, version, user=self.user, reason=reason)

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> int:
        """Remove ``alias``; returns the version it pointed at."""
        return self.store.delete_alias(name, alias, user=self.user, reason=reason)

    def archive(self, ref: str, *, reason: str | None = None) -> ModelVersion:
        """Archive a version (refused while an alias or deployment points at it)."""
        version = self._explicit(ref, "archive")
        self.store.set_status(
            version.name, version.version, "archived", user=self.user, reason=reason
        )
        return self.store.get_version(version.name, version.version)

    def restore(self, ref: str, *, reason: str | None = None) -> ModelVersion:
        """Bring an archived version back to ``ready``."""
        version = self._explicit(ref, "restore")
        self.store.set_status(version.name, version.version, "ready", user=self.user, reason=reason)
        return self.store.get_version(version.name, version.version)

    def delete(self, ref: str, *, reason: str | None = None) -> ModelVersion:
        """Delete a version's record (refused while an alias or deployment points at it).

        Its blobs stay in the content-addressed store (others may share them).
        """
        version = self._explicit(ref, "delete")
        return self.store.delete_version(
            version.name, version.version, user=self.user, reason=reason
        )

    def _explicit(self, ref: str, action: str) -> ModelVersion:
        """Destructive changes name their version: ``churn@3`` or ``churn@champion``."""
        parsed = parse_model_ref(ref)
        if parsed.version is None and parsed.alias is None:
            raise ValidationError(
                f"say which version to {action}: {parsed.name}@VERSION (e.g. "
                f"{parsed.name}@3); a bare name would mean the newest one"
            )
        return self.get(parsed)

    # -- loading ---------------------------------------------------------------
    def load(self, ref: str | ModelRef, *, format: str | None = None) -> Predictor:
        """A predictor for the version ``ref`` names.

        Args:
            ref: ``churn@champion``, ``churn@3``, ``churn``.
            format: ``onnx`` (the default when the version has a parity-checked
                package), ``onnx-int8``, ``skops``, ``pickle`` or ``joblib``.

        Raises:
            NotFoundError: No such version, or the format is not packaged (the
                message lists the available ones and why ONNX is missing).
            IntegrityError: A blob does not match its recorded hash.
            UnsafeFormatError: The version is a pickle and pickles are not allowed.
        """
        version = self.get(ref)
        chosen = format or _default_format(version)
        if format is not None and format not in FORMATS:
            raise ValidationError(f"format {format!r} is not one of {', '.join(FORMATS)}")
        entry = version.formats.get(chosen, {})
        if "blob" not in entry:
            why = f" ({chosen}: {entry['unavailable']})" if "unavailable" in entry else ""
            raise NotFoundError(
                f"{version.ref} has no {chosen} package{why}; available: "
                f"{', '.join(version.available_formats()) or 'none'}",
                resource="model format",
                identifier=f"{version.ref}:{chosen}",
            )
        runtime: Runtime
        if chosen.startswith("onnx"):
            runtime = OnnxModel(self.blobs.get_bytes(entry["blob"]), version.signature)
        else:
            runtime = NativeRuntime(self._load_native(chosen, entry["blob"]))
        return Predictor(version, runtime, chosen)

    def load_native(self, ref: str | ModelRef) -> Any:
        """The native fitted pipeline of a version (for evaluation and explanations)."""
        version = self.get(ref)
        fmt = next(f for f in version.formats if not f.startswith("onnx"))
        return self._load_native(fmt, version.formats[fmt]["blob"])

    def _load_native(self, fmt: str, sha256: str) -> Any:
        if fmt == "skops":
            return load_skops(self.blobs.get_bytes(sha256))
        if not self.allow_pickle:  # decided before the blob is even read
            raise UnsafeFormatError(
                f"refusing to load a {fmt} model (blob {sha256[:12]}): {PICKLE_HINT}",
                format=fmt,
            )
        data = self.blobs.get_bytes(sha256)  # verified against its name on the way out
        return load_pickle(data, expected_sha256=sha256, allow_pickle=True, flavor=fmt)


def _default_format(version: ModelVersion) -> str:
    if "blob" in version.formats.get("onnx", {}):
        return "onnx"
    return next((f for f in version.formats if not f.startswith("onnx")), "skops")


def _parse_where(text: str) -> tuple[str, str, float]:
    match = _WHERE_RE.fullmatch(text)
    if match is None:
        raise ValidationError(
            f"condition {text[:200]!r} is not valid: write METRIC OP NUMBER, e.g. "
            "'roc_auc >= 0.8' (operators: >=, <=, >, <, ==, !=)"
        )
    return match.group(1), match.group(2), float(match.group(3))


def _check_metric_names(keys: list[str], scope: list[ModelVersion]) -> None:
    if not scope:
        return
    known = sorted({k for v in scope for k in v.metrics})
    for key in keys:
        if key not in known:
            raise ValidationError(
                f"no version here records a metric {key!r}; metrics: {', '.join(known) or 'none'}"
            )


def _holds(version: ModelVersion, condition: tuple[str, str, float]) -> bool:
    key, op, value = condition
    measured = version.metrics.get(key)
    return measured is not None and _OPS[op](float(measured), value)


def _ordered(versions: list[ModelVersion], order_by: str) -> list[ModelVersion]:
    key, _, direction = order_by.strip().partition(" ")
    direction = direction.strip().upper() or "ASC"
    if direction not in ("ASC", "DESC"):
        raise ValidationError(f"order direction {direction!r} is not ASC or DESC")
    if key == "version":
        return sorted(versions, key=lambda v: (v.name, v.version), reverse=direction == "DESC")
    key = key.removeprefix("metrics.")
    present = [v for v in versions if key in v.metrics]
    missing = [v for v in versions if key not in v.metrics]
    present.sort(key=lambda v: float(v.metrics[key]), reverse=direction == "DESC")
    return present + missing
