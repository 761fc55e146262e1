"""The model-family registry: every family builds, fits, predicts and is reproducible."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import numpy as np
import optuna
import pytest
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import threadpool_limits

from modelyard.exceptions import MissingDependencyError, ValidationError
from modelyard.training import families
from modelyard.training.families import (
    TASKS,
    Family,
    default_families,
    family_names,
    get_family,
    is_available,
    require_available,
)
from modelyard.training.space import Param, parse_space, sample_defaults, suggest_all

ALL = [
    "linear",
    "random_forest",
    "extra_trees",
    "hist_gradient_boosting",
    "lightgbm",
    "xgboost",
    "torch_mlp",
]
CASES = [(name, task) for name in ALL for task in TASKS]


@pytest.fixture(autouse=True)
def one_openmp_thread() -> Iterator[None]:
    """HistGradientBoosting takes no n_jobs; its OpenMP threads crawl on a loaded 2-core box."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@cache
def data(task: str) -> tuple[NDArray[Any], NDArray[Any]]:
    if task == "regression":
        X, y = make_regression(n_samples=150, n_features=6, noise=5.0, random_state=0)
        return X, y
    n_classes = 2 if task == "binary" else 3
    X, y = make_classification(
        n_samples=150, n_features=6, n_informative=4, n_classes=n_classes, random_state=0
    )
    return X, y


def fit_predict(name: str, task: str, params: dict[str, Any], seed: int = 0) -> NDArray[Any]:
    X, y = data(task)
    model = get_family(name).build(params, task, seed, 1).fit(X, y)
    if task == "regression":
        pred: NDArray[Any] = model.predict(X)
        assert pred.shape == (len(X),)
        return pred
    proba: NDArray[Any] = model.predict_proba(X)
    assert proba.shape == (len(X), len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(model.predict(X)) <= set(y)
    return proba


def test_the_registry_lists_every_family() -> None:
    assert family_names() == ALL
    assert family_names(available_only=False) == ALL
    for task in TASKS:
        assert family_names(task) == ALL
    assert all(is_available(name) for name in ALL)


def test_default_families_leave_out_the_mlp() -> None:
    for task in TASKS:
        assert default_families(task) == [
            "linear",
            "random_forest",
            "hist_gradient_boosting",
            "lightgbm",
            "xgboost",
        ]


def test_family_metadata() -> None:
    assert get_family("linear").complexity == 1
    assert min(get_family(n).complexity for n in ALL if n != "linear") > 1
    assert [n for n in ALL if get_family(n).linear] == ["linear"]
    assert get_family("torch_mlp").extra == "torch"
    assert [n for n in ALL if get_family(n).needs_encoded_labels] == ["xgboost"]


@pytest.mark.parametrize("name", ALL)
def test_defaults_are_the_baseline_of_a_valid_space(name: str) -> None:
    family = get_family(name)
    assert dict(family.defaults) == sample_defaults(family.space)
    assert parse_space({}, family.space, family=name) == dict(family.space)
    for key, param in family.space.items():
        if param.kind == "categorical":
            assert param.default is None or param.default in param.choices
        else:
            assert param.low is not None
            assert param.high is not None
            assert param.low <= family.defaults[key] <= param.high, key


def test_the_registry_cannot_be_mutated_by_accident() -> None:
    family = get_family("lightgbm")
    with pytest.raises(TypeError):
        family.space["num_leaves"] = Param.fixed(2)  # type: ignore[index]
    with pytest.raises(TypeError):
        family.defaults["num_leaves"] = 2  # type: ignore[index]


def test_task_specific_parameters() -> None:
    linear = get_family("linear")
    assert "alpha" in linear.space_for("regression")
    assert "C" not in linear.space_for("regression")
    assert "class_weight" not in linear.space_for("regression")
    assert "C" in linear.space_for("binary")
    assert "alpha" not in linear.defaults_for("multiclass")
    # a regression silently ignores the classification-only C that a shared space holds
    ridge = linear.build({"C": 5.0, "alpha": 2.0}, "regression", 0, 1)
    assert ridge.alpha == 2.0


@pytest.mark.parametrize(("name", "task"), CASES)
def test_default_build_fits_predicts_and_is_reproducible(name: str, task: str) -> None:
    first = fit_predict(name, task, {})
    second = fit_predict(name, task, {})
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_a_sampled_trial_builds_and_fits(name: str, task: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    family = get_family(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    params = suggest_all(study.ask(), family.space_for(task), prefix=f"{name}.")
    if name in {"random_forest", "extra_trees"}:
        params["n_estimators"] = 50  # keep the test quick; the rest is as sampled
    first = fit_predict(name, task, params, seed=3)
    np.testing.assert_array_equal(first, fit_predict(name, task, params, seed=3))


@pytest.mark.parametrize("name", ["random_forest", "lightgbm", "xgboost", "torch_mlp"])
def test_the_seed_reaches_the_model(name: str) -> None:
    params: dict[str, Any] = {"subsample": 0.7} if name in {"lightgbm", "xgboost"} else {}
    if name == "torch_mlp":
        params["max_epochs"] = 5
    a = fit_predict(name, "binary", params, seed=1)
    b = fit_predict(name, "binary", params, seed=2)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "name", ["random_forest", "extra_trees", "lightgbm", "xgboost", "torch_mlp"]
)
def test_n_jobs_is_passed_through(name: str) -> None:
    assert get_family(name).build({}, "binary", 0, 3).get_params()["n_jobs"] == 3


@pytest.mark.parametrize("name", ALL)
def test_built_estimators_clone(name: str) -> None:
    model = get_family(name).build({}, "multiclass", 5, 1)
    copy = clone(model)
    assert copy.get_params() == model.get_params()


@pytest.mark.parametrize("name", [n for n in ALL if n not in {"xgboost", "torch_mlp"}])
def test_string_labels_and_float32_inputs(name: str) -> None:
    X, y = data("multiclass")
    labels = np.array(["cat", "dog", "eel"])[y]
    model = get_family(name).build({}, "multiclass", 0, 1).fit(X.astype(np.float32), labels)
    assert list(model.classes_) == ["cat", "dog", "eel"]
    assert set(model.predict(X.astype(np.float32))) <= {"cat", "dog", "eel"}


def test_torch_mlp_params_become_a_funnel_or_fixed_sizes() -> None:
    mlp = get_family("torch_mlp")
    assert mlp.build({}, "binary", 0, 1).hidden_layer_sizes == (64, 32)
    assert mlp.build({"n_layers": 3, "units": 128}, "binary", 0, 1).hidden_layer_sizes == (
        128,
        64,
        32,
    )
    space = parse_space({"hidden_layer_sizes": {"value": [10, 5]}}, mlp.space, family="torch_mlp")
    fixed = mlp.build(sample_defaults(space), "regression", 0, 1)
    assert fixed.hidden_layer_sizes == (10, 5)


def test_elastic_net_switches_the_solver() -> None:
    linear = get_family("linear")
    assert linear.build({}, "binary", 0, 1).solver == "lbfgs"
    assert linear.build({"l1_ratio": 0.5}, "binary", 0, 1).solver == "saga"


def test_unknown_family_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError) as info:
        get_family("lightgbn")
    assert "did you mean 'lightgbm'?" in str(info.value)
    assert ", ".join(sorted(ALL)) in str(info.value)
    with pytest.raises(ValidationError, match="unknown model family"):
        get_family(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        is_available("nope")


def test_a_typo_in_build_params_is_an_error() -> None:
    with pytest.raises(ValidationError) as info:
        get_family("lightgbm").build({"num_leafs": 8}, "binary", 0, 1)
    assert "did you mean 'num_leaves'?" in str(info.value)
    assert "model family 'lightgbm'" in str(info.value)


@pytest.mark.parametrize("task", ["classification", "", None, "Binary"])
def test_unknown_task_is_an_error(task: Any) -> None:
    with pytest.raises(ValidationError, match="unknown task"):
        get_family("linear").build({}, task, 0, 1)
    with pytest.raises(ValidationError, match="unknown task"):
        family_names(task or "x")


def test_a_family_whose_library_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Family(
        name="fake",
        tasks=frozenset(TASKS),
        build=lambda p, t, s, n: None,
        space={"a": Param.fixed(1)},
        defaults={"a": 1},
        complexity=9,
        extra="fake",
        module="modelyard_no_such_module_xyz",
    )
    monkeypatch.setitem(families._REGISTRY, "fake", fake)
    assert not is_available("fake")
    assert "fake" not in family_names()
    assert "fake" in family_names(available_only=False)
    with pytest.raises(MissingDependencyError) as info:
        require_available("fake")
    assert "pip install 'modelyard[fake]'" in str(info.value)
    assert "ModuleNotFoundError" in str(info.value)
    assert isinstance(info.value, ImportError)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "task"), CASES)
def test_every_choice_and_range_end_fits_without_warnings(name: str, task: str) -> None:
    X, y = data(task)
    family = get_family(name)
    for key, param in family.space_for(task).items():
        values = param.choices if param.kind == "categorical" else (param.low, param.high)
        for value in values:
            family.build({key: value}, task, 0, 1).fit(X, y).predict(X)
