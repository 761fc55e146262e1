"""``my.train(data="churn@3", target="churned", spec=...)``: the training entry point."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelyard.config import Settings, load_settings
from modelyard.data import DataClient, Dataset
from modelyard.exceptions import ValidationError
from modelyard.tracking import TrackingClient
from modelyard.training.prepare import Prepared, prepare
from modelyard.training.spec import TrainSpec

if TYPE_CHECKING:
    from modelyard.training.job import Progress, TrainResult

__all__ = ["load_training_data", "train"]

SpecLike = TrainSpec | Mapping[str, Any] | str | Path | None


def train(
    data: str | Dataset | pd.DataFrame,
    target: str,
    spec: SpecLike = None,
    *,
    experiment: str | None = None,
    tracking: TrackingClient | None = None,
    data_client: DataClient | None = None,
    settings: Settings | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> TrainResult:
    """Train and select a model for ``target``, tracking every candidate.

    Args:
        data: A dataset reference (``"churn@3"``), a :class:`Dataset`, or a DataFrame.
        target: The column to predict.
        spec: A :class:`TrainSpec`, its mapping or YAML (text or path); None takes
            the defaults (task detected, default families, 5-fold CV, 20 trials).
        experiment: Where the runs go (default ``train-<dataset name>``).
        tracking: Tracking client (default: the module-level one).
        data_client: Data client to resolve references (default: the module-level one).
        settings: Where worker processes connect (default: the tracking client's).
        on_progress: Called about twice a second with trials done, total, best score.

    Returns:
        The leaderboard, the chosen candidate and its fitted model, holdout scores,
        the signature, and the parent run id.

    Raises:
        ValidationError: Bad data, target or spec, before any model is fitted.
    """
    # The job (Optuna, the model families) loads when training starts, so that
    # load_training_data, which promotion uses, does not import it.
    from modelyard.training.job import run_job

    parsed = _spec(spec)
    if tracking is None:
        from modelyard.tracking import get_client

        tracking = get_client()
    settings = settings or tracking.settings or load_settings()
    frame, ref, exclude, holdout = _resolve(data, parsed, data_client)
    prepared = prepare(frame, target, parsed, exclude=exclude, holdout_mask=holdout)
    name = experiment or f"train-{ref.split('@')[0] if ref != 'dataframe' else 'dataframe'}"
    return run_job(
        prepared,
        parsed,
        settings=settings,
        tracking=tracking,
        experiment=name,
        data_ref=ref,
        on_progress=on_progress,
    )


def load_training_data(
    data: str | Dataset | pd.DataFrame,
    target: str,
    spec: SpecLike = None,
    *,
    data_client: DataClient | None = None,
) -> Prepared:
    """The training and holdout rows a training job with these inputs used.

    Splitting is deterministic (seeded, or a recorded split), so the registry and
    evaluation get back exactly the rows a past job held out.

    Raises:
        ValidationError: Bad data, target or spec (as :func:`train` would).
        NotFoundError: The dataset version no longer exists.
    """
    parsed = _spec(spec)
    frame, _ref, exclude, holdout = _resolve(data, parsed, data_client)
    return prepare(frame, target, parsed, exclude=exclude, holdout_mask=holdout)


def _spec(spec: SpecLike) -> TrainSpec:
    if spec is None:
        return TrainSpec()
    if isinstance(spec, TrainSpec):
        return spec
    if isinstance(spec, str | Path):
        return TrainSpec.from_yaml(spec)
    return TrainSpec.from_dict(spec)


def _resolve(
    data: str | Dataset | pd.DataFrame, spec: TrainSpec, client: DataClient | None
) -> tuple[pd.DataFrame, str, list[str], np.ndarray | None]:
    if isinstance(data, pd.DataFrame):
        if spec.holdout.split is not None:
            raise ValidationError("holdout.split names a recorded split; a DataFrame has none")
        return data, "dataframe", [], None
    if isinstance(data, str):
        if client is None:
            from modelyard.data import get_client

            client = get_client()
        data = client.get(data)
    frame = data.to_pandas()
    exclude = sorted(set(data.masking) | _identifier_columns(data))
    holdout = None
    if spec.holdout.split is not None:
        split = data.get_split(spec.holdout.split)
        holdout = split.assignment() == split.parts.index(_part(split.parts, spec.holdout.part))
    return frame, data.ref, exclude, holdout


def _identifier_columns(dataset: Dataset) -> set[str]:
    """Columns the profile found identifier-like (ids, emails): not features by default."""
    return {name for name, column in dataset.profile.columns.items() if column.identifier_like}


def _part(parts: list[str], part: str) -> str:
    if part not in parts:
        raise ValidationError(
            f"holdout.part {part!r} is not a part of the split; parts: {', '.join(parts)}"
        )
    return part
