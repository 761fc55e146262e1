"""FeatureSpec: parsing YAML and mappings, validation, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.features import Bucketize, ColumnSpec, FeatureSpec, Interaction

EXAMPLE = """\
features:
  defaults:                 # by column type
    numeric: {impute: median, scale: standard}
    categorical: {impute: most_frequent, encode: onehot}
  columns:
    monthly_charges: {impute: mean, missing_indicator: true, log1p: true, scale: robust}
    tenure_months: {bucketize: {bins: 5, strategy: quantile}}
    region: {encode: target}
    plan: {encode: ordinal, categories: [basic, standard, premium]}
    signup_at: {drop: true}
  interactions:
    - {columns: [tenure_months, monthly_charges], degree: 2, interaction_only: true}
  include: [customer_id]
  drop: [name]
"""


def test_the_example_parses() -> None:
    spec = FeatureSpec.from_yaml(EXAMPLE)
    assert spec.defaults["numeric"] == ColumnSpec(impute="median", scale="standard")
    assert spec.columns["monthly_charges"] == ColumnSpec(
        impute="mean", missing_indicator=True, log1p=True, scale="robust"
    )
    assert spec.columns["tenure_months"].bucketize == Bucketize(5, "quantile")
    assert spec.columns["plan"].categories == ("basic", "standard", "premium")
    assert spec.columns["signup_at"].drop is True
    assert spec.interactions == (
        Interaction(("tenure_months", "monthly_charges"), degree=2, interaction_only=True),
    )
    assert spec.include == ("customer_id",)
    assert spec.drop == ("name",)


def test_with_and_without_the_features_key_is_the_same_spec() -> None:
    spec = FeatureSpec.from_yaml(EXAMPLE)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert FeatureSpec.from_dict({"features": spec.to_dict()}) == spec
    # a whole project file: only its features section is read
    assert FeatureSpec.from_dict({"training": {"cv": 5}, "features": spec.to_dict()}) == spec


def test_to_yaml_round_trips() -> None:
    spec = FeatureSpec.from_yaml(EXAMPLE)
    assert FeatureSpec.from_yaml(spec.to_yaml()) == spec


def test_empty_specs_mean_all_defaults() -> None:
    for empty in (None, {}, {"features": None}, {"features": {}}):
        assert FeatureSpec.from_dict(empty) == FeatureSpec()
    assert FeatureSpec.from_yaml("") == FeatureSpec()
    assert FeatureSpec.from_yaml("features:\n") == FeatureSpec()
    assert FeatureSpec().to_dict() == {}


def test_python_callers_may_pass_plain_mappings_and_lists() -> None:
    spec = FeatureSpec(
        columns={"a": {"scale": "robust"}},  # type: ignore[dict-item]
        interactions=[{"columns": ["a", "b"]}],  # type: ignore[list-item]
        include=["id"],  # type: ignore[arg-type]
    )
    assert spec.columns["a"] == ColumnSpec(scale="robust")
    assert spec.interactions == (Interaction(("a", "b")),)
    assert spec.include == ("id",)


def test_yaml_syntax_error_gives_the_line() -> None:
    text = "features:\n  columns:\n    a: {impute: mean\n  drop: [b]\n"
    with pytest.raises(ValidationError, match=r"does not parse at line \d+, column \d+") as info:
        FeatureSpec.from_yaml(text)
    assert info.value.details["line"] in (3, 4)


def test_repeated_yaml_key_is_refused_with_its_line() -> None:
    text = "features:\n  columns:\n    a: {scale: robust}\n    a: {scale: minmax}\n"
    with pytest.raises(ValidationError, match="repeats the key 'a' at line 4"):
        FeatureSpec.from_yaml(text)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("features:\n  colums: {}\n", "unknown option 'colums'; valid options: columns, defaults"),
        ("features:\n  columns:\n    a: {scael: robust}\n", "columns.a: unknown option 'scael'"),
        ("features:\n  defaults:\n    text: {}\n", "unknown column kind 'text'; valid kinds"),
        ("features:\n  defaults:\n    numeric: {encode: onehot}\n", "defaults.numeric"),
        ("features:\n  defaults:\n    categorical: {categories: [a]}\n", "are per column"),
        ("features: [a, b]\n", "must be a mapping with sections"),
        ("features:\n  include: customer_id\n", "include must be a list of column names"),
        ("features:\n  drop: [a, a]\n", "drop names 'a' more than once"),
        ("features:\n  columns:\n    on: {drop: true}\n", "YAML reads yes/no/on/off"),
        ("features:\n  columns:\n    1.5: {drop: true}\n", "column name must be a string"),
        ("features:\n  columns:\n    [a]: {drop: true}\n", "line 3, column 5"),
        ("features:\n  columns: [a]\n", "mapping of name to options"),
        ("features:\n  interactions: {columns: [a]}\n", "interactions must be a list"),
        ("features:\n  interactions: [{cols: [a]}]\n", "interactions[0]: unknown option 'cols'"),
        ("features:\n  interactions: [{degree: 2}]\n", "needs a columns list"),
        ("features:\n  interactions: [a]\n", "must be a mapping with a columns list"),
    ],
)
def test_bad_specs_say_what_is_valid(text: str, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        FeatureSpec.from_yaml(text)
    assert needle in str(info.value)


def test_numeric_yaml_keys_become_column_names() -> None:
    spec = FeatureSpec.from_yaml("features:\n  columns:\n    2020: {scale: robust}\n  drop: [1]\n")
    assert list(spec.columns) == ["2020"]
    assert spec.drop == ("1",)
    with pytest.raises(ValidationError, match="names '1' more than once"):
        FeatureSpec.from_yaml("features:\n  columns:\n    1: {}\n    '1': {}\n")


def test_a_column_in_include_and_drop_is_refused() -> None:
    with pytest.raises(ValidationError, match="'id' are in both include and drop"):
        FeatureSpec(include=("id",), drop=("id", "x"))


def test_an_included_column_marked_drop_is_refused() -> None:
    with pytest.raises(ValidationError, match="'id' is in include but has drop: true"):
        FeatureSpec(columns={"id": ColumnSpec(drop=True)}, include=("id",))


def test_a_dropped_column_with_options_is_refused() -> None:
    with pytest.raises(ValidationError, match="'a' is in drop but has options"):
        FeatureSpec(columns={"a": ColumnSpec(scale="robust")}, drop=("a",))
    FeatureSpec(columns={"a": ColumnSpec(drop=True)}, drop=("a",))  # agrees: fine


def test_an_interaction_of_a_dropped_column_is_refused() -> None:
    with pytest.raises(ValidationError, match="interactions\\[0\\] uses dropped column"):
        FeatureSpec(interactions=(Interaction(("a", "b")),), drop=("b",))
    with pytest.raises(ValidationError, match="uses dropped column"):
        FeatureSpec(columns={"a": ColumnSpec(drop=True)}, interactions=(Interaction(("a", "b")),))


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"columns": ("a",), "interaction_only": True}, "at least 2 column"),
        ({"columns": ()}, "at least 1 column"),
        ({"columns": ("a", "b"), "degree": 1}, "degree must be from 2 to 4"),
        ({"columns": ("a", "b"), "degree": 9}, "degree must be from 2 to 4"),
        ({"columns": ("a", "b"), "degree": 2.0}, "degree must be an integer"),
        ({"columns": ("a", "b"), "interaction_only": "yes"}, "must be true or false"),
        ({"columns": ("a", "a")}, "names 'a' more than once"),
        ({"columns": "ab"}, "must be a list of column names"),
    ],
)
def test_bad_interactions_are_refused(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Interaction(**kwargs)  # type: ignore[arg-type]


def test_spec_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert FeatureSpec.from_yaml(path) == FeatureSpec.from_yaml(EXAMPLE)
    assert FeatureSpec.from_yaml(str(path)) == FeatureSpec.from_yaml(EXAMPLE)
    with pytest.raises(NotFoundError, match="does not exist"):
        FeatureSpec.from_yaml(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_bytes(b"features:\n  drop: [\xff]\n")
    with pytest.raises(ValidationError, match="cannot read features spec"):
        FeatureSpec.from_yaml(tmp_path / "bad.yaml")


def test_hostile_yaml_is_refused_cleanly() -> None:
    with pytest.raises(ValidationError, match=r"does not parse|nested too deeply"):
        FeatureSpec.from_yaml("[" * 1000)
    with pytest.raises(ValidationError, match="does not parse"):
        FeatureSpec.from_yaml("features: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ValidationError, match="YAML text or a Path"):
        FeatureSpec.from_yaml(b"features: {}")  # type: ignore[arg-type]


def test_unicode_and_quoted_column_names_round_trip() -> None:
    names = ["naïve col", 'say "hi"', "it's", "列", "a__b", " spaced "]
    spec = FeatureSpec(columns={n: ColumnSpec(scale="robust") for n in names}, drop=("x y",))
    again = FeatureSpec.from_yaml(spec.to_yaml())
    assert again == spec
    assert list(again.columns) == names
