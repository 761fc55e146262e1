"""Checking what :func:`modelyard.evaluation.evaluate` is given, before any compute.

Every mistake gets a message that names the bad value and what is valid: an
empty or non-frame holdout, targets of the wrong length or kind, a sensitive or
slice column that is not in the data, an unknown metric, a positive class out
of range, training rows whose columns do not cover the holdout's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelyard.evaluation.groups import check_columns
from modelyard.evaluation.scoring import resolve_metrics
from modelyard.exceptions import ValidationError

__all__ = ["TASKS", "Checked", "check_classes", "check_inputs"]

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Checked:
    """The checked inputs: targets as arrays, metric names, column names."""

    y_test: np.ndarray
    y_train: np.ndarray | None
    metrics: list[str]
    sensitive: str | None
    slices: list[str]


def _frame(X: object, name: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError(
            f"{name} must be a pandas DataFrame of the raw feature columns, not {type(X).__name__}"
        )
    if len(X) == 0:
        raise ValidationError(
            f"{name} has no rows; evaluation needs the holdout rows the model did not train on"
        )
    return X


def _target(y: object, rows: int, task: str, name: str) -> np.ndarray:
    values = np.asarray(y)
    if values.dtype == np.bool_:
        values = values.astype(np.int64)
    elif values.dtype == object:  # nullable pandas integers, numbers held as objects
        with contextlib.suppress(TypeError, ValueError):
            values = values.astype(np.float64)
    if values.ndim != 1 or len(values) != rows:
        raise ValidationError(
            f"{name} has shape {values.shape}; it must be one value per row ({rows} rows)"
        )
    if task == "regression":
        if not np.issubdtype(values.dtype, np.number):
            raise ValidationError(f"{name} must be numeric for a regression, not {values.dtype}")
        if not np.isfinite(values.astype(np.float64)).all():
            raise ValidationError(f"{name} holds nulls or infinities; drop those rows first")
        return values.astype(np.float64)
    integral = np.issubdtype(values.dtype, np.integer) or (
        np.issubdtype(values.dtype, np.floating) and np.all(np.mod(values, 1) == 0)
    )
    if not integral or (values < 0).any():
        sample = ", ".join(map(repr, pd.unique(values)[:3].tolist()))
        raise ValidationError(
            f"{name} must hold class codes 0..k-1 as training encodes them (labels maps codes "
            f"to the original classes); got values like {sample}"
        )
    return values.astype(np.int64)


def check_inputs(
    X_test: object,
    y_test: object,
    *,
    task: str,
    X_train: object | None,
    y_train: object | None,
    sensitive: str | None,
    slices: Sequence[str],
    metrics: Sequence[str] | None,
) -> Checked:
    """Check everything that can be checked before the model predicts.

    Raises:
        ValidationError: What is wrong and what is valid.
    """
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}; valid: {', '.join(TASKS)}", task=str(task))
    frame = _frame(X_test, "X_test")
    names = resolve_metrics(task, metrics)
    if sensitive is not None:
        if not isinstance(sensitive, str):
            raise ValidationError(
                f"sensitive must name one column, not {type(sensitive).__name__}; columns: "
                f"{', '.join(map(str, frame.columns))}"
            )
        check_columns(frame, [sensitive], "sensitive")
    if not isinstance(slices, str) and any(not isinstance(c, str) for c in slices):
        raise ValidationError(f"slices must be column names (strings), not {list(slices)!r}")
    slice_columns = check_columns(frame, slices, "slice")
    test = _target(y_test, len(frame), task, "y_test")
    train = None
    if y_train is not None and X_train is None:
        raise ValidationError("y_train was given without X_train; pass both, or neither")
    if X_train is not None:
        train_frame = _frame(X_train, "X_train")
        lacking = [c for c in frame.columns if c not in train_frame.columns]
        if lacking:
            raise ValidationError(
                f"X_train lacks the holdout column(s) {', '.join(map(repr, lacking))}; "
                "pass the training rows with the same columns as X_test",
                columns=lacking,
            )
        if y_train is not None:
            train = _target(y_train, len(train_frame), task, "y_train")
    return Checked(test, train, names, sensitive, slice_columns)


def check_classes(
    task: str, classes: int, y: np.ndarray, labels: Sequence[object] | None, positive: int
) -> list[str] | None:
    """The class names, checked against the model's ``classes`` probability columns.

    Returns:
        One name per class code (the codes themselves when ``labels`` is None); None
        for a regression.

    Raises:
        ValidationError: Labels of the wrong length, a binary model without two
            classes, codes in ``y`` the model does not know, a positive code out of range.
    """
    if task == "regression":
        return None
    if task == "binary" and classes != 2:
        raise ValidationError(f"a binary task needs a model with 2 classes; it has {classes}")
    if labels is not None and len(labels) != classes:
        raise ValidationError(
            f"labels names {len(labels)} classes but the model predicts {classes}; pass the "
            "labels the model was trained with"
        )
    if y.max(initial=0) >= classes:
        raise ValidationError(
            f"y_test holds class code {int(y.max())} but the model knows codes 0..{classes - 1}"
        )
    if isinstance(positive, bool) or not isinstance(positive, int | np.integer):
        hint = ""
        if labels is not None and positive in list(labels):
            hint = f" ({positive!r} is code {list(labels).index(positive)})"
        raise ValidationError(
            f"positive must be a class code in 0..{classes - 1}, not {positive!r}{hint}",
            positive=str(positive),
        )
    if not 0 <= positive < classes:
        raise ValidationError(
            f"positive must be a class code in 0..{classes - 1}, not {positive!r}",
            positive=int(positive),
        )
    return [str(label) for label in (labels if labels is not None else range(classes))]
