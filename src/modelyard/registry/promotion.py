"""Evaluate a version on its holdout, check promotion gates, promote, write its card.

The holdout is rebuilt from the lineage (dataset version, target, training spec):
splitting is deterministic, so these are exactly the rows training held out.
``no_regression`` gates score the baseline (the champion) on the same rows, so
the two models are compared on equal terms; when that is not possible (the
data is gone, the signatures differ) the baseline's recorded metrics are used
and the reason says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

# The packages, not their names: both load lazily, so importing this module (as every
# ``modelyard models`` command does) does not import scikit-learn, fairlearn or Optuna
# until a version is evaluated or gated.
from modelyard import evaluation, training
from modelyard.exceptions import ModelyardError, NotFoundError, ValidationError
from modelyard.registry.card import ModelCard, render_card, write_card
from modelyard.registry.client import ModelRegistry
from modelyard.store import ModelVersion

__all__ = [
    "Promotion",
    "check_version_gates",
    "default_gates",
    "evaluate_version",
    "holdout_of",
    "promote_version",
    "write_model_card",
]

DataLike: TypeAlias = str | pd.DataFrame | None


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did: whether the alias moved, from where, and the gate results."""

    version: ModelVersion
    alias: str
    promoted: bool
    previous: int | None
    gates: dict[str, Any]


def holdout_of(
    registry: ModelRegistry, version: ModelVersion, data: DataLike = None
) -> training.Prepared:
    """The training and holdout rows of ``version`` (``data`` overrides the lineage)."""
    lineage = version.lineage
    source = data if data is not None else lineage.get("data")
    if source is None or (isinstance(source, str) and source == "dataframe"):
        raise ValidationError(
            f"{version.ref} was trained on an in-memory DataFrame: pass the same data "
            "(data=frame, or --data NAME@VERSION) to evaluate it"
        )
    target = lineage.get("target")
    if not target:
        raise ValidationError(
            f"{version.ref} records no target column: its run was not a training job"
        )
    return training.load_training_data(
        source, target, lineage.get("train_spec"), data_client=registry.data
    )


def evaluate_version(
    registry: ModelRegistry,
    ref: str,
    *,
    sensitive: str | None = None,
    slices: Sequence[str] = (),
    data: DataLike = None,
    explain: bool = True,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``ref`` on its holdout and store the result on the version.

    Raises:
        ValidationError: The sensitive or a slice column is not in the data (the
            message lists the columns), or the data cannot be rebuilt.
    """
    version = registry.get(ref)
    prepared = holdout_of(registry, version, data)
    model = registry.load_native(version.ref)
    result = evaluation.evaluate(
        model,
        prepared.X_holdout,
        prepared.y_holdout,
        task=version.task,
        labels=prepared.labels,
        X_train=prepared.X_train,
        y_train=prepared.y_train,
        sensitive=sensitive,
        slices=slices,
        seed=int((version.lineage.get("train_spec") or {}).get("seed", 0) or 0),
        explain=explain,
        on_progress=on_progress,
    )
    doc = result.to_dict()
    unused = {c["name"] for c in version.signature.get("inputs", []) if not c.get("used", True)}
    doc["importance"] = [r for r in doc.get("importance") or [] if r["feature"] not in unused]
    if data is None:
        doc["data"] = version.lineage.get("data")
    else:
        doc["data"] = data if isinstance(data, str) else "dataframe"
    doc["evaluated_at"] = int(time.time() * 1000)
    registry.store.set_document(
        version.name, version.version, "evaluation", doc, user=registry.user
    )
    return doc


def check_version_gates(
    registry: ModelRegistry, ref: str, gates: Any, *, data: DataLike = None
) -> dict[str, Any]:
    """Check ``gates`` (YAML text or path, a mapping or a list) against ``ref``.

    Returns the gate document (``passed``, ``results``, ``checked_at``); it is
    not stored (``promote`` stores it with the alias move).
    """
    version = registry.get(ref)
    parsed = evaluation.parse_gates(gates)
    prepared = _try_holdout(registry, version, data)
    aliases = {g.vs or "champion" for g in parsed if g.kind == "no_regression"}
    baselines = {a: _baseline(registry, version, a, prepared) for a in aliases}
    context = evaluation.GateContext(
        task=version.task,
        evaluation=version.evaluation,
        metrics=version.metrics,
        baselines={a: b[0] if b else None for a, b in baselines.items()},
        latency={f: e["latency"] for f, e in version.formats.items() if "latency" in e},
        size_mb={f: e["size"] / 1e6 for f, e in version.formats.items() if "size" in e},
        fairness_for=_fairness_for(registry, version, prepared),
        unavailable={f: e["unavailable"] for f, e in version.formats.items() if "unavailable" in e},
        ref=version.ref,
    )
    results = [r.to_dict() for r in evaluation.check_gates(parsed, context)]
    notes = [f"{a}: {b[1]}" for a, b in baselines.items() if b and b[1]]
    return {
        "passed": all(r["passed"] for r in results),
        "checked_at": int(time.time() * 1000),
        "forced": False,
        "reason": None,
        "gates": [g.to_dict() for g in parsed],
        "results": results,
        "notes": notes,
    }


def default_gates(version: ModelVersion, alias: str = "champion") -> list[dict[str, Any]]:
    """No regression of the primary metric against the current ``alias``."""
    spec = version.lineage.get("train_spec") or {}
    metric = spec.get("metric") or training.default_metric(version.task)
    return [{"no_regression": {"vs": alias, "metric": metric, "tolerance": 0.0}}]


def promote_version(
    registry: ModelRegistry,
    ref: str,
    *,
    gates: Any = None,
    alias: str = "champion",
    force: bool = False,
    reason: str | None = None,
    data: DataLike = None,
) -> Promotion:
    """Move ``alias`` to ``ref`` if every gate passes (or ``force``, with a reason).

    Without ``gates`` the default is no regression of the primary metric against
    the current ``alias``. The gate results are stored on the version either way;
    the alias move and its history entry (with the reason) happen in one
    transaction.

    Raises:
        ValidationError: ``force`` without a ``reason``; malformed gates.
    """
    if force and not (reason and reason.strip()):
        raise ValidationError("--force needs --reason: say why the gates are overridden")
    version = registry.get(ref)
    current = _current(registry, version, alias)
    chosen = gates or default_gates(version, alias)
    doc = check_version_gates(registry, version.ref, chosen, data=data)
    doc["alias"] = alias
    if not doc["passed"] and not force:
        # A failed attempt never replaces the passing evidence of a version that
        # already holds an alias; it goes on the version only when there is none.
        if not version.aliases:
            registry.store.set_document(
                version.name, version.version, "gates", doc, user=registry.user
            )
        return Promotion(registry.get(version.ref), alias, False, current, doc)
    if not doc["passed"]:
        doc["forced"], doc["reason"] = True, reason
    why = reason or ("gates passed" if doc["results"] else "no gates")
    # Conditional on the alias not having moved while the gates ran (a concurrent
    # promotion): the gates compared against `current`, so only that may be replaced.
    previous = registry.store.set_alias(
        version.name,
        alias,
        version.version,
        user=registry.user,
        reason=why,
        gates=doc,
        expect=current,
    )
    return Promotion(registry.get(version.ref), alias, True, previous, doc)


def write_model_card(
    registry: ModelRegistry,
    ref: str,
    path: str | Path | None = None,
    *,
    intended_use: str | None = None,
    limitations: Sequence[str] = (),
) -> ModelCard:
    """Render the card of ``ref`` (and write it to ``path``, .html or .md)."""
    version = registry.get(ref)
    card = render_card(
        version,
        dataset=_dataset_summary(registry, version),
        intended_use=intended_use,
        limitations=limitations,
    )
    if path is not None:
        write_card(card, path)
    return card


def _current(registry: ModelRegistry, version: ModelVersion, alias: str) -> int | None:
    return registry.store.aliases(version.name).get(alias)


def _try_holdout(
    registry: ModelRegistry, version: ModelVersion, data: DataLike
) -> training.Prepared | None:
    if data is not None:  # asked for explicitly: a failure is the caller's to see
        return holdout_of(registry, version, data)
    try:
        return holdout_of(registry, version, data)
    except (ValidationError, NotFoundError):
        return None


def _baseline(
    registry: ModelRegistry, version: ModelVersion, alias: str, prepared: training.Prepared | None
) -> tuple[dict[str, float], str | None] | None:
    """The baseline's metrics on the candidate's holdout, else as recorded."""
    try:
        base = registry.store.resolve_alias(version.name, alias)
    except NotFoundError:
        return None
    if prepared is None or len(prepared.y_holdout) == 0:
        return base.metrics, f"{base.ref} metrics as recorded at its training (no shared holdout)"
    try:
        model = registry.load_native(base.ref)
        pred, proba = training.predict_scores(model, prepared.X_holdout, version.task)
        names = sorted(set(version.metrics) | set(base.metrics))
        labels = None if prepared.labels is None else np.arange(len(prepared.labels))
        scored = training.score_all(names, version.task, prepared.y_holdout, pred, proba, labels)
    except (ModelyardError, ValueError, KeyError) as exc:
        return (
            base.metrics,
            f"{base.ref} could not score this holdout ({exc}); recorded metrics used",
        )
    finite = {k: float(v) for k, v in scored.items() if not math.isnan(v)}
    return finite, f"{base.ref} scored on the same holdout rows as {version.ref}"


def _fairness_for(
    registry: ModelRegistry, version: ModelVersion, prepared: training.Prepared | None
) -> Callable[[str], dict[str, Any] | None] | None:
    if prepared is None:
        return None

    def compute(column: str) -> dict[str, Any] | None:
        model = registry.load_native(version.ref)
        result = evaluation.evaluate(
            model,
            prepared.X_holdout,
            prepared.y_holdout,
            task=version.task,
            labels=prepared.labels,
            sensitive=column,
            explain=False,
        )
        fairness: dict[str, Any] | None = result.to_dict().get("fairness")
        return fairness

    return compute


def _dataset_summary(registry: ModelRegistry, version: ModelVersion) -> dict[str, Any] | None:
    ref = version.lineage.get("data")
    if not ref or ref == "dataframe" or registry.data is None:
        return None
    try:
        dataset = registry.data.get(ref)
    except NotFoundError:
        return None
    profile = [
        {
            "name": c.name,
            "type": c.type,
            "nulls": c.null_count,
            "distinct": c.distinct,
            "min": c.format_value(c.min),
            "max": c.format_value(c.max),
            "mean": c.mean,
        }
        for c in dataset.profile.columns.values()
    ]
    return {
        "ref": dataset.ref,
        "rows": dataset.num_rows,
        "columns": len(dataset.schema),
        "content_hash": dataset.content_hash,
        "profile": profile,
    }
