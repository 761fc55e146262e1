"""ColumnSpec and Bucketize: validation, merging over defaults, round trips."""

from __future__ import annotations

import math

import pytest

from modelyard.exceptions import ValidationError
from modelyard.features import Bucketize, ColumnSpec


def test_an_empty_spec_sets_nothing() -> None:
    assert ColumnSpec().set_options() == []
    assert ColumnSpec().to_dict() == {}
    assert ColumnSpec.from_dict(None) == ColumnSpec()


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"impute": "avg"}, "impute must be one of mean, median, most_frequent, constant"),
        ({"scale": "zscore"}, "scale must be one of standard, minmax, maxabs, robust, none"),
        ({"encode": "hash"}, "encode must be one of onehot, ordinal, target"),
        ({"handle_unknown": "error"}, "handle_unknown must be one of infrequent_if_exist"),
        ({"log1p": "yes"}, "log1p must be true or false"),
        ({"drop": 1}, "drop must be true or false"),
        ({"missing_indicator": None, "drop": "no"}, "drop must be true or false"),
        ({"min_frequency": 0}, "min_frequency must be a count"),
        ({"min_frequency": 1.5}, "min_frequency must be a count"),
        ({"min_frequency": True}, "min_frequency must be a count"),
        ({"max_categories": 1}, "max_categories must be an integer >= 2"),
        ({"categories": "abc"}, "categories must be a list"),
        ({"categories": []}, "non-empty list of distinct levels"),
        ({"categories": ["a", "a"]}, "non-empty list of distinct levels"),
        ({"categories": [["a"], "b"]}, "categories must be strings or numbers"),
        ({"fill_value": [1]}, "fill_value must be a string"),
        ({"fill_value": math.nan, "impute": "constant"}, "finite number"),
    ],
)
def test_bad_values_name_the_valid_ones(options: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=r"^columns\.x: ") as info:
        ColumnSpec.from_dict(options, "columns.x")
    assert needle in str(info.value)


def test_unknown_option_lists_the_valid_ones_and_guesses() -> None:
    with pytest.raises(ValidationError) as info:
        ColumnSpec.from_dict({"scal": "standard"}, "columns.price")
    message = str(info.value)
    assert "columns.price: unknown option 'scal'" in message
    assert "valid options: bucketize, categories, drop, encode" in message
    assert "did you mean 'scale'?" in message


def test_options_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError, match="mapping of options, not list"):
        ColumnSpec.from_dict(["impute"], "columns.x")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"impute": "mean", "fill_value": 0}, "fill_value is only used with impute: constant"),
        ({"scale": "robust", "bucketize": 4}, "does not apply to a bucketized column"),
        ({"encode": "target", "max_categories": 5}, "max_categories does not apply"),
        ({"encode": "target", "handle_unknown": "ignore"}, "handle_unknown does not apply"),
        ({"encode": "ordinal", "handle_unknown": "ignore"}, "unknown levels become -1"),
    ],
)
def test_contradicting_options_are_refused(options: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        ColumnSpec.from_dict(options)


def test_bucketize_takes_a_mapping_or_a_bin_count() -> None:
    assert ColumnSpec.from_dict({"bucketize": 7}).bucketize == Bucketize(bins=7)
    parsed = ColumnSpec.from_dict({"bucketize": {"bins": 3, "strategy": "uniform"}})
    assert parsed.bucketize == Bucketize(3, "uniform", "ordinal")
    assert ColumnSpec(bucketize={"bins": 4}).bucketize == Bucketize(4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"bins": 1}, "bins must be an integer from 2 to 1000"),
        ({"bins": True}, "bins must be an integer"),
        ({"bins": 10**6}, "bins must be an integer from 2 to 1000"),
        ({"strategy": "equal"}, "strategy must be one of quantile, uniform, kmeans"),
        ({"encode": "onehot-dense"}, "encode must be one of ordinal, onehot"),
        ({"bin": 3}, "did you mean 'bins'"),
        ("five", "mapping of options"),
    ],
)
def test_bad_bucketize_is_refused(value: object, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        ColumnSpec.from_dict({"bucketize": value}, "columns.age")


def test_round_trip_keeps_every_option() -> None:
    spec = ColumnSpec(
        impute="constant",
        fill_value="unknown",
        missing_indicator=True,
        encode="onehot",
        categories=("a", "b"),
        min_frequency=0.05,
        max_categories=10,
        handle_unknown="ignore",
    )
    assert ColumnSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["categories"] == ["a", "b"]
    numeric = ColumnSpec(log1p=True, bucketize=Bucketize(4, "kmeans", "onehot"), drop=False)
    assert ColumnSpec.from_dict(numeric.to_dict()) == numeric


def test_merged_lets_the_upper_spec_win() -> None:
    base = ColumnSpec(impute="median", scale="standard", missing_indicator=False)
    over = ColumnSpec(scale="robust", log1p=True)
    assert base.merged(over) == ColumnSpec(
        impute="median", scale="robust", missing_indicator=False, log1p=True
    )
    assert base.merged(ColumnSpec()) == base


def test_merged_clears_what_the_upper_spec_contradicts() -> None:
    constant = ColumnSpec(impute="constant", fill_value=0)
    assert constant.merged(ColumnSpec(impute="mean")).fill_value is None
    scaled = ColumnSpec(scale="standard")
    assert scaled.merged(ColumnSpec(bucketize=Bucketize())).scale is None
    binned = ColumnSpec(bucketize=Bucketize())
    assert binned.merged(ColumnSpec(scale="minmax")).bucketize is None
    onehot = ColumnSpec(encode="onehot", max_categories=50, handle_unknown="ignore")
    target = onehot.merged(ColumnSpec(encode="target"))
    assert (target.max_categories, target.handle_unknown) == (None, None)
    # the same encoding keeps its options
    assert onehot.merged(ColumnSpec(encode="onehot")).max_categories == 50


@pytest.mark.parametrize(
    ("spec", "kind", "needle"),
    [
        (ColumnSpec(encode="onehot"), "numeric", "option 'encode' does not apply to numeric"),
        (ColumnSpec(log1p=True), "categorical", "option 'log1p' does not apply to categorical"),
        (ColumnSpec(scale="standard"), "boolean", "option 'scale' does not apply to boolean"),
        (ColumnSpec(bucketize=Bucketize()), "datetime", "'bucketize' does not apply"),
        (ColumnSpec(impute="mean"), "categorical", "impute: mean does not apply"),
        (ColumnSpec(impute="constant"), "datetime", "valid: mean, median, most_frequent"),
        (ColumnSpec(impute="constant", fill_value="x"), "numeric", "must be a number"),
        (ColumnSpec(impute="constant", fill_value=True), "numeric", "must be a number"),
        (ColumnSpec(impute="constant", fill_value=2), "boolean", "must be true or false"),
        (ColumnSpec(impute="constant", fill_value="no"), "boolean", "must be true or false"),
    ],
)
def test_check_kind_refuses_options_of_another_kind(
    spec: ColumnSpec, kind: str, needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        spec.check_kind(kind, "col")
    assert "'col'" in str(info.value)


def test_check_kind_accepts_fitting_options() -> None:
    ColumnSpec(impute="constant", fill_value=True).check_kind("boolean", "b")
    ColumnSpec(impute="constant", fill_value=0).check_kind("boolean", "b")
    ColumnSpec(impute="constant", fill_value=3).check_kind("categorical", "c")
    ColumnSpec(log1p=True, bucketize=Bucketize(), missing_indicator=True).check_kind("numeric", "n")
    ColumnSpec(scale="minmax", impute="mean").check_kind("datetime", "d")
