"""Everything that would waste a search is refused before any model is fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.exceptions import ValidationError
from modelyard.training.prepare import detect_task, prepare
from modelyard.training.spec import TrainSpec


def frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "plan": rng.choice(["a", "b", "c"], size=n),
            "day": pd.date_range("2024-01-01", periods=n, freq="D"),
            "y": (x + rng.normal(scale=0.5, size=n) > 0).astype(int),
        }
    )


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], "binary"),
        ([True, False, True, True], "binary"),
        (["yes", "no", "no", "yes"], "binary"),
        (["a", "b", "c", "a"], "multiclass"),
        ([1, 2, 3, 4, 5, 1], "multiclass"),
        ([0.5, 1.5, 2.25, 3.0], "regression"),
        (list(range(50)), "regression"),
    ],
)
def test_the_task_is_detected_from_the_target(values: list[object], task: str) -> None:
    assert detect_task(pd.Series(values)) == task


def test_train_and_holdout_are_split_stratified_and_labels_kept() -> None:
    df = frame()
    df["y"] = np.where(df["y"] == 1, "churn", "stay")
    prepared = prepare(df, "y", TrainSpec())
    assert prepared.task == "binary"
    assert prepared.labels == ["churn", "stay"]
    assert len(prepared.y_train) + len(prepared.y_holdout) == 200
    assert len(prepared.y_holdout) == pytest.approx(40, abs=1)
    assert "y" not in prepared.X_train.columns
    rate = (df["y"] == "churn").mean()
    assert prepared.y_holdout.tolist().count(0) / len(prepared.y_holdout) == pytest.approx(
        rate, abs=0.03
    )


def test_rows_with_a_null_target_are_dropped_and_counted() -> None:
    df = frame()
    df["y"] = df["y"].astype("Float64")
    df.loc[:9, "y"] = None
    assert prepare(df, "y", TrainSpec()).dropped_null_target == 10


def test_a_time_series_holdout_is_the_latest_rows_and_training_is_in_time_order() -> None:
    df = frame().sample(frac=1, random_state=1).reset_index(drop=True)
    spec = TrainSpec.from_dict({"cv": {"kind": "timeseries", "time_column": "day"}})
    prepared = prepare(df, "y", spec)
    assert prepared.X_train["day"].is_monotonic_increasing
    assert prepared.X_train["day"].max() < prepared.X_holdout["day"].min()


@pytest.mark.parametrize(
    ("mutate", "target", "spec", "message"),
    [
        (
            lambda d: d,
            "nope",
            {},
            "target column 'nope' is not in the data; columns: x, plan, day, y",
        ),
        (lambda d: d.assign(y=1), "y", {}, "single class"),
        (lambda d: d.assign(y=np.nan), "y", {}, "only nulls"),
        (lambda d: d.assign(empty=np.nan), "y", {}, "'empty' hold only nulls"),
        (
            lambda d: d.rename(columns={"y": "churned"}).assign(churned_at=1),
            "churned",
            {},
            "'churned_at' look like the target 'churned'",
        ),
        (lambda d: d.head(7), "y", {}, "too few for 5-fold"),
        (lambda d: d.assign(y=[1] * 3 + [0] * 197), "y", {}, "fewer than the 5 folds"),
        (lambda d: d, "y", {"cv": {"kind": "timeseries"}}, "cv.time_column"),
        (lambda d: d, "y", {"task": "regression"}, None),
        (lambda d: d.assign(y=d["plan"]), "y", {"task": "regression"}, "numeric target"),
    ],
)
def test_bad_input_is_refused_before_any_compute(
    mutate: object, target: str, spec: dict[str, object], message: str | None
) -> None:
    df = mutate(frame())  # type: ignore[operator]
    if message is None:
        assert prepare(df, target, TrainSpec.from_dict(spec)).task == "regression"
        return
    with pytest.raises(ValidationError, match=message):
        prepare(df, target, TrainSpec.from_dict(spec))


def test_a_feature_named_like_the_target_may_be_kept_explicitly() -> None:
    df = frame().rename(columns={"y": "churned"}).assign(churned_before=1.0)
    spec = TrainSpec.from_dict({"features": {"include": ["churned_before"]}})
    assert "churned_before" in prepare(df, "churned", spec).X_train.columns


def test_excluded_columns_are_listed_unless_included() -> None:
    df = frame().assign(customer_id=[f"c{i}" for i in range(200)])
    assert prepare(df, "y", TrainSpec(), exclude=["customer_id"]).excluded == ["customer_id"]
    spec = TrainSpec.from_dict({"features": {"include": ["customer_id"]}})
    assert prepare(df, "y", spec, exclude=["customer_id"]).excluded == []
