"""Dataset handles: recorded splits, reading split parts, and the module-level API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import modelyard as my
from modelyard.data import DataClient, make_churn
from modelyard.exceptions import AlreadyExistsError, NotFoundError, ValidationError


@pytest.fixture
def churn(data: DataClient):  # type: ignore[no-untyped-def]
    return data.ingest(make_churn(1000, seed=5), "churn")


def test_a_stratified_split_is_recorded_and_keeps_class_proportions(churn) -> None:  # type: ignore[no-untyped-def]
    split = churn.split("default", kind="stratified", by="churned", seed=7)
    assert split.counts == {"train": 700, "valid": 150, "test": 150}
    assert split.spec["by"] == "churned"
    rate = churn.to_pandas()["churned"].mean()
    for part in split.parts:
        assert split.to_pandas(part)["churned"].mean() == pytest.approx(rate, abs=0.02)
    again = churn.get_split("default")
    assert np.array_equal(again.assignment(), split.assignment())
    train = churn.to_pandas(split="default", part="train")
    assert len(train) == 700


def test_the_same_spec_gives_the_same_split_and_another_spec_is_refused(churn) -> None:  # type: ignore[no-untyped-def]
    first = churn.split("s", kind="random", seed=1, fractions={"train": 0.8, "test": 0.2})
    same = churn.split("s", kind="random", seed=1, fractions={"train": 0.8, "test": 0.2})
    assert np.array_equal(first.assignment(), same.assignment())
    with pytest.raises(AlreadyExistsError, match="splits are immutable"):
        churn.split("s", kind="random", seed=2, fractions={"train": 0.8, "test": 0.2})
    other = churn.split("s2", kind="random", seed=2, fractions={"train": 0.8, "test": 0.2})
    assert not np.array_equal(first.assignment(), other.assignment())
    assert [s.name for s in churn.splits()] == ["s", "s2"]


def test_a_time_split_puts_earlier_rows_first(churn) -> None:  # type: ignore[no-untyped-def]
    split = churn.split(
        "by_time", kind="time", time_column="signup_at", fractions={"train": 0.8, "test": 0.2}
    )
    train = split.to_pandas("train")
    test = split.to_pandas("test")
    assert train["signup_at"].max() <= test["signup_at"].min()


def test_split_errors(churn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="no column"):
        churn.split("x", kind="stratified", by="nope")
    with pytest.raises(ValidationError):
        churn.split("x", kind="random", fractions={"train": 0.5, "test": 0.2})
    with pytest.raises(NotFoundError, match="no split named 'missing'"):
        churn.get_split("missing")
    split = churn.split("ok")
    with pytest.raises(ValidationError, match="parts: train, valid, test"):
        split.indices("holdout")
    with pytest.raises(ValidationError, match="both split= and part="):
        churn.to_pandas(split="ok")


def test_module_level_functions_use_the_configured_home(tmp_path: Path) -> None:
    my.connect(home=tmp_path)
    try:
        ds = my.data.ingest(make_churn(50, seed=1), "churn")
        assert my.data.get("churn@1").content_hash == ds.content_hash
        assert [d.ref for d in my.data.list_datasets()] == ["churn@1"]
        assert my.data.query("SELECT count(*) AS n FROM churn@1").to_pylist() == [{"n": 50}]
        grown = my.data.append("churn", make_churn(10, seed=2))
        assert grown.num_rows == 60
        assert my.data.validate("churn", {"rules": [{"row_count": {"min": 100}}]}).passed is False
    finally:
        my.data.get_client().close()
        my.get_client().close()
