"""From a table and a target to checked training and holdout sets, before any compute.

Every mistake that would waste a search is caught here, with a message that
says what to change: a missing or constant target, a feature that leaks the
target by name, an all-null feature, too few rows or too small a class for the
folds, a time column that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelyard.exceptions import ValidationError
from modelyard.training.spec import TrainSpec

__all__ = ["Prepared", "detect_task", "prepare"]

_MAX_CLASSES = 50
_MULTICLASS_INT_MAX = 10


@dataclass
class Prepared:
    """Checked data for one training job.

    ``y_*`` hold class indices for classification (``labels`` maps them back),
    the target values for regression. ``X_*`` keep the original columns; the
    preprocessing spec decides which become features.
    """

    task: str
    target: str
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_holdout: pd.DataFrame
    y_holdout: np.ndarray
    labels: list[object] | None
    excluded: list[str] = field(default_factory=list)
    dropped_null_target: int = 0


def detect_task(y: pd.Series) -> str:
    """``binary``, ``multiclass`` or ``regression`` from the target's type and values.

    Text, categories and booleans are classes; integers are classes when there are
    at most 10 distinct values; floats are a regression unless they hold only two values.
    """
    values = y.dropna()
    distinct = values.nunique()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "binary" if distinct <= 2 else "multiclass"
    if distinct <= 2:
        return "binary"
    if pd.api.types.is_integer_dtype(values) and distinct <= _MULTICLASS_INT_MAX:
        return "multiclass"
    return "regression"


def prepare(
    frame: pd.DataFrame,
    target: str,
    spec: TrainSpec,
    *,
    exclude: Iterable[str] = (),
    holdout_mask: np.ndarray | None = None,
) -> Prepared:
    """Check ``frame`` and split off the holdout rows.

    Args:
        frame: Features and target.
        target: The target column.
        spec: The training spec (task override, CV, holdout, features).
        exclude: Columns that are identifiers or masked PII: not features unless the
            feature spec's ``include`` names them.
        holdout_mask: True for holdout rows (a recorded split's part); None takes
            ``spec.holdout.fraction`` of the rows (the latest ones for time-series CV).

    Raises:
        ValidationError: What is wrong, before any model is fitted.
    """
    if target not in frame.columns:
        raise ValidationError(
            f"target column {target!r} is not in the data; columns: {', '.join(map(str, frame.columns))}",
            target=target,
        )
    y_all = frame[target]
    keep = y_all.notna().to_numpy()
    if not keep.any():
        raise ValidationError(f"target column {target!r} holds only nulls")
    frame = frame.loc[keep].reset_index(drop=True)
    if holdout_mask is not None:
        holdout_mask = np.asarray(holdout_mask)[keep]
    y_all = frame[target]
    task = spec.task or detect_task(y_all)
    _check_target(y_all, target, task)
    features = frame.drop(columns=[target])
    include = set(spec.features.get("include") or [])
    excluded = sorted(set(exclude) - include & set(features.columns))
    _check_leaks(features.columns, target, include, spec.features.get("drop") or [])
    _check_all_null(features, excluded, spec.features.get("drop") or [])
    y, labels = _encode(y_all, task)
    order = _time_order(frame, spec)
    if holdout_mask is None:
        holdout_mask = _holdout_by_fraction(len(frame), spec, y, task, order)
    train_idx, hold_idx = np.flatnonzero(~holdout_mask), np.flatnonzero(holdout_mask)
    if order is not None:  # time-series CV needs the training rows in time order
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        train_idx = train_idx[np.argsort(rank[train_idx], kind="stable")]
    prepared = Prepared(
        task=task,
        target=target,
        X_train=features.iloc[train_idx].reset_index(drop=True),
        y_train=y[train_idx],
        X_holdout=features.iloc[hold_idx].reset_index(drop=True),
        y_holdout=y[hold_idx],
        labels=labels,
        excluded=excluded,
        dropped_null_target=int((~keep).sum()),
    )
    _check_folds(prepared, spec)
    return prepared


def _check_target(y: pd.Series, target: str, task: str) -> None:
    distinct = y.nunique()
    if task != "regression":
        if distinct < 2:
            raise ValidationError(
                f"target {target!r} has a single class ({y.iloc[0]!r}); a classifier needs "
                "at least two",
                target=target,
            )
        if distinct > _MAX_CLASSES:
            raise ValidationError(
                f"target {target!r} has {distinct} classes (more than {_MAX_CLASSES}); "
                "if it is numeric, set task: regression"
            )
    elif not pd.api.types.is_numeric_dtype(y):
        raise ValidationError(f"task regression needs a numeric target; {target!r} is {y.dtype}")
    elif distinct < 2:
        raise ValidationError(f"target {target!r} is constant; there is nothing to learn")


def _check_leaks(
    columns: Sequence[object], target: str, include: set[str], drop: Sequence[str]
) -> None:
    stem = target.lower()
    leaks = [
        str(c)
        for c in columns
        if str(c) not in include
        and str(c) not in drop
        and len(stem) >= 3
        and (stem in str(c).lower() or (str(c).lower() in stem and len(str(c)) >= 4))
    ]
    if leaks:
        raise ValidationError(
            f"feature(s) {', '.join(map(repr, leaks))} look like the target {target!r} by name "
            "and would leak it; drop them (features.drop) or, if they are known at prediction "
            "time, list them in features.include",
            columns=leaks,
        )


def _check_all_null(features: pd.DataFrame, excluded: list[str], drop: Sequence[str]) -> None:
    empty = [
        str(c)
        for c in features.columns
        if c not in excluded and c not in drop and features[c].isna().all()
    ]
    if empty:
        raise ValidationError(
            f"feature(s) {', '.join(map(repr, empty))} hold only nulls; drop them "
            "(features.drop) or fill them at ingestion",
            columns=empty,
        )


def _encode(y: pd.Series, task: str) -> tuple[np.ndarray, list[object] | None]:
    if task == "regression":
        return y.to_numpy(dtype=np.float64), None
    codes, uniques = pd.factorize(y, sort=True)
    return codes.astype(np.int64), [_plain(v) for v in uniques]


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _time_order(frame: pd.DataFrame, spec: TrainSpec) -> np.ndarray | None:
    if spec.cv.kind != "timeseries":
        return None
    column = spec.cv.time_column
    if column is None or column not in frame.columns:
        raise ValidationError(
            f"time-series CV needs cv.time_column naming a column of the data (got {column!r}); "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    if frame[column].isna().any():
        raise ValidationError(f"time column {column!r} has nulls; rows must be orderable in time")
    return np.argsort(frame[column].to_numpy(), kind="stable")


def _holdout_by_fraction(
    n: int, spec: TrainSpec, y: np.ndarray, task: str, order: np.ndarray | None
) -> np.ndarray:
    size = max(1, round(n * spec.holdout.fraction))
    mask = np.zeros(n, dtype=bool)
    if order is not None:
        mask[order[n - size :]] = True  # the latest rows
        return mask
    rng = np.random.default_rng(spec.seed)
    if task == "regression":
        mask[rng.permutation(n)[:size]] = True
        return mask
    for cls in np.unique(y):  # stratified: each class keeps its share
        rows = np.flatnonzero(y == cls)
        take = round(len(rows) * spec.holdout.fraction)
        mask[rng.permutation(rows)[:take]] = True
    return mask


def _check_folds(prepared: Prepared, spec: TrainSpec) -> None:
    folds, n = spec.cv.folds, len(prepared.y_train)
    if n < 2 * folds:
        raise ValidationError(
            f"{n} training rows are too few for {folds}-fold cross-validation (need at least "
            f"{2 * folds}); use fewer folds (cv.folds) or more data"
        )
    if prepared.task != "regression" and spec.cv.kind in ("auto", "stratified"):
        counts = np.bincount(prepared.y_train)
        smallest = int(counts[counts > 0].min())
        if smallest < folds:
            label = prepared.labels[int(np.argmin(np.where(counts > 0, counts, n + 1)))]  # type: ignore[index]
            raise ValidationError(
                f"class {label!r} has {smallest} training rows, fewer than the {folds} folds of "
                "stratified cross-validation; use fewer folds (cv.folds) or more data"
            )
    if len(prepared.y_holdout) == 0:
        raise ValidationError("the holdout is empty; check holdout.split/part or holdout.fraction")
