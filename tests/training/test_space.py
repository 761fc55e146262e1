"""Search spaces: parsing YAML overrides, suggesting from Optuna trials, baseline defaults."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest

from modelyard.exceptions import ValidationError
from modelyard.training.space import (
    Param,
    fixed_params,
    parse_space,
    sample_defaults,
    suggest,
    suggest_all,
    to_trial_params,
)

DEFAULTS = {
    "C": Param("float", 1e-3, 1e2, log=True, default=1.0),
    "max_depth": Param("int", 2, 12, default=6),
    "penalty": Param("categorical", choices=("l2", "l1")),
    "max_iter": Param.fixed(1000),
    "depth_or_none": Param("categorical", choices=(None, 4, 8)),
}


def parse(overrides: Any) -> dict[str, Param]:
    return parse_space(overrides, DEFAULTS, family="linear")


def random_trial(seed: int = 0) -> optuna.Trial:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return study.ask()


def test_empty_overrides_keep_the_defaults() -> None:
    assert parse({}) == DEFAULTS


def test_a_range_override_keeps_kind_and_log_of_the_default() -> None:
    space = parse({"C": {"low": 0.01, "high": 100}})
    assert space["C"] == Param("float", 0.01, 100.0, log=True, default=1.0)


def test_a_partial_range_takes_the_other_bound_from_the_default() -> None:
    assert parse({"max_depth": {"high": 4}})["max_depth"] == Param("int", 2, 4, default=None)


def test_the_default_moves_to_the_midpoint_when_outside_the_new_range() -> None:
    space = parse({"C": {"low": 10, "high": 1000}})
    assert space["C"].default is None
    assert sample_defaults(space)["C"] == pytest.approx(100.0)


def test_a_list_gives_choices_and_a_scalar_a_fixed_value() -> None:
    space = parse({"penalty": ["l1"], "max_depth": 6, "C": [0.1, 1.0]})
    assert space["penalty"] == Param("categorical", choices=("l1",), default=None)
    assert space["max_depth"].is_fixed
    assert space["max_depth"].choices == (6,)
    assert space["C"].choices == (0.1, 1.0)
    assert fixed_params(space) == {"penalty": "l1", "max_depth": 6, "max_iter": 1000}


def test_a_list_value_is_fixed_through_the_value_key() -> None:
    space = parse({"depth_or_none": {"value": [64, 32]}})
    assert space["depth_or_none"] == Param.fixed((64, 32))
    assert sample_defaults(space)["depth_or_none"] == (64, 32)


def test_choices_key_with_a_default() -> None:
    space = parse({"penalty": {"choices": ["l1", "l2"], "default": "l2"}})
    assert sample_defaults(space)["penalty"] == "l2"


def test_int_bounds_on_a_categorical_default_give_an_int_range() -> None:
    space = parse({"depth_or_none": {"low": 2, "high": 8}})
    assert space["depth_or_none"] == Param("int", 2, 8)
    floats = parse({"depth_or_none": {"low": 0.5, "high": 8, "log": True}})
    assert floats["depth_or_none"].kind == "float"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"C": {"low": 10, "high": 1}}, "low (10) is greater than high (1)"),
        ({"C": {"low": 0, "high": 1}}, "log scale needs low > 0"),
        ({"C": {"low": -1, "high": 1}}, "log scale needs low > 0"),
        ({"penalty": []}, "choices must not be empty"),
        ({"penalty": {"choices": []}}, "choices must not be empty"),
        ({"penalty": ["l1", "l1"]}, "choices must be distinct"),
        ({"penalty": {"choices": "l1"}}, "choices must be a list"),
        ({"C": {"low": "a", "high": 1}}, "low must be a number"),
        ({"C": {"low": True, "high": 1}}, "low must be a number"),
        ({"C": {"low": 1, "high": math.inf}}, "high must be finite"),
        ({"C": {"low": math.nan, "high": 1}}, "low must be finite"),
        ({"C": {"lo": 1}}, "unknown keys ['lo']"),
        ({"C": {"value": 1, "low": 2}}, "takes no other keys"),
        ({"C": {"log": "yes"}}, "log must be true or false"),
        ({"C": {"kind": "complex"}}, "kind must be one of"),
        ({"C": "big"}, "a fixed value must be a number"),
        ({"max_depth": 2.5}, "must be a whole number"),
        ({"max_depth": {"low": 1.5, "high": 4}}, "whole bounds"),
        ({"max_depth": {"low": 1, "high": 10, "step": 4}}, "not a multiple of step"),
        ({"max_depth": {"low": 0, "high": 10, "step": 0}}, "step must be > 0"),
        ({"max_depth": {"low": 0, "high": 10, "step": 2.5}}, "int step must be whole"),
        ({"C": {"step": 0.1}}, "step cannot be combined with a log scale"),
    ],
)
def test_impossible_overrides_are_rejected(overrides: Any, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse(overrides)
    assert fragment in str(info.value)
    assert "family 'linear'" in str(info.value)


def test_a_typo_names_the_family_the_valid_names_and_the_closest_one() -> None:
    with pytest.raises(ValidationError) as info:
        parse({"max_dept": 3})
    message = str(info.value)
    assert "'max_dept'" in message
    assert "family 'linear'" in message
    assert "did you mean 'max_depth'?" in message
    assert "C, depth_or_none, max_depth, max_iter, penalty" in message
    assert info.value.details == {"family": "linear", "parameter": "max_dept"}


@pytest.mark.parametrize("overrides", [["C"], "C: 1", None, 3])
def test_overrides_must_be_a_mapping(overrides: Any) -> None:
    with pytest.raises(ValidationError, match="must be a mapping"):
        parse(overrides)


def test_hostile_names_and_huge_choices() -> None:
    with pytest.raises(ValidationError, match="unknown parameter"):
        parse({1: 2})
    with pytest.raises(ValidationError, match="unknown parameter"):
        parse({"x" * 100_000: 1})
    space = parse({"penalty": [f"c{i}" for i in range(10_000)]})
    assert len(space["penalty"].choices) == 10_000


def test_sample_defaults_uses_defaults_midpoints_and_first_choices() -> None:
    space = {
        "a": Param("float", 1.0, 100.0, log=True),
        "b": Param("int", 1, 4),
        "c": Param("float", 0.0, 1.0, step=0.3),
        "d": Param("categorical", choices=("x", "y")),
        "e": Param("float", 0.0, 1.0, default=0.25),
        "f": Param("int", 0, 10, default=3.0),
        "g": Param("categorical", choices=(None, 1), default=None),
    }
    assert sample_defaults(space) == {
        "a": pytest.approx(10.0),
        "b": 2,
        "c": pytest.approx(0.6),
        "d": "x",
        "e": 0.25,
        "f": 3,
        "g": None,
    }
    assert isinstance(sample_defaults(space)["b"], int)


def test_suggest_with_a_fixed_trial() -> None:
    trial = optuna.trial.FixedTrial(
        {"C": 0.5, "max_depth": 3, "penalty": "l1", "depth_or_none": None}
    )
    # the fixed max_iter is not asked of the trial, so FixedTrial need not know it
    assert suggest_all(trial, DEFAULTS) == {
        "C": 0.5,
        "max_depth": 3,
        "penalty": "l1",
        "max_iter": 1000,
        "depth_or_none": None,
    }


def test_suggest_stays_in_range_and_honours_steps() -> None:
    space = parse(
        {
            "max_depth": {"low": 2, "high": 10, "step": 2},
            "C": {"low": 0.0, "high": 1.0, "log": False, "step": 0.25},
            "max_iter": {"low": 0, "high": 0.3, "step": 0.1},
        }
    )
    assert space["max_iter"].kind == "float"
    for seed in range(20):
        values = suggest_all(random_trial(seed), space)
        assert values["max_depth"] in {2, 4, 6, 8, 10}
        assert values["C"] in {0.0, 0.25, 0.5, 0.75, 1.0}
        assert values["penalty"] in {"l1", "l2"}
        assert values["max_iter"] == pytest.approx(round(values["max_iter"], 1))


def test_non_primitive_choices_are_suggested_by_label() -> None:
    param = Param("categorical", choices=((64, 32), (128,), {"a": 1}))
    trial = random_trial()
    value = suggest(trial, "sizes", param)
    assert value in param.choices
    assert trial.params["sizes"] == repr(value)


def test_prefix_is_recorded_by_optuna_but_not_returned() -> None:
    trial = random_trial()
    values = suggest_all(trial, DEFAULTS, prefix="linear.")
    assert set(values) == set(DEFAULTS)
    assert set(trial.params) == {
        "linear.C",
        "linear.max_depth",
        "linear.penalty",
        "linear.depth_or_none",
    }


def test_enqueued_defaults_come_back_from_suggest() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {**DEFAULTS, "sizes": Param("categorical", choices=((64, 32), (128,)), default=(128,))}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    baseline = sample_defaults(space)
    study.enqueue_trial(to_trial_params(space, baseline, prefix="f."))
    assert suggest_all(study.ask(), space, prefix="f.") == baseline


def test_fixed_lists_become_tuples() -> None:
    assert Param.fixed([1, 2]).choices == ((1, 2),)
    assert not Param("categorical", choices=(1, 2)).is_fixed
