"""The PyTorch MLP: the scikit-learn contract, quality, determinism, and no torch after fit."""

from __future__ import annotations

import copy
import pickle
import pickletools
import sys
from functools import cache
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelyard.exceptions import MissingDependencyError, ValidationError
from modelyard.training.torch_mlp import ACTIVATIONS, TorchMLPClassifier, TorchMLPRegressor

SMALL: dict[str, Any] = {
    "hidden_layer_sizes": (16,),
    "max_epochs": 60,
    "learning_rate": 1e-2,
    "batch_size": 32,
}


@cache
def cancer() -> tuple[NDArray[Any], ...]:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def blobs(n: int = 120, classes: int = 3) -> tuple[NDArray[Any], NDArray[Any]]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    X = rng.normal(size=(n, 4)) + y[:, None] * 2.0
    return X, y


def torch_modules(payload: bytes) -> set[str]:
    """Modules a pickle imports when loaded."""
    strings: list[str] = []
    modules = set()
    for opcode, arg, _ in pickletools.genops(payload):
        if opcode.name in {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE"}:
            strings.append(str(arg))
        elif opcode.name == "STACK_GLOBAL":
            modules.add(strings[-2])
        elif opcode.name == "GLOBAL":
            modules.add(str(arg).split(" ")[0])
    return {m for m in modules if m == "torch" or m.startswith("torch.")}


def _check_name(case: Any) -> str:
    values = getattr(case, "values", case)
    check = values[1]
    return str(getattr(getattr(check, "func", check), "__name__", check))


# The array-API checks apply to estimators that claim array-API support; these compute
# in NumPy and do not, so they are left out (scikit-learn would only skip them).
_CASES = [
    case
    for case in parametrize_with_checks(
        [TorchMLPClassifier(**SMALL), TorchMLPRegressor(**SMALL)]
    ).args[1]
    if "array_api" not in _check_name(case)
]


@pytest.mark.parametrize(
    ("estimator", "check"),
    _CASES,
    ids=lambda v: _check_name((None, v)) if callable(v) else type(v).__name__,
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_quality_on_breast_cancer() -> None:
    X_train, X_test, y_train, y_test = cancer()
    model = TorchMLPClassifier(random_state=0).fit(X_train, y_train)
    assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.97
    assert model.n_iter_ < 200  # early stopping stopped it
    assert len(model.validation_loss_curve_) == model.n_iter_
    assert model.best_loss_ == pytest.approx(min(model.validation_loss_curve_))


def test_quality_on_regression_with_a_large_target_scale() -> None:
    X, y = make_regression(n_samples=400, n_features=8, noise=5.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y * 1000 + 5e4, random_state=0)
    model = TorchMLPRegressor(random_state=0).fit(X_train, y_train)
    assert r2_score(y_test, model.predict(X_test)) > 0.95


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    X_train, X_test, y_train, _ = cancer()
    params: dict[str, Any] = {"dropout": 0.2, "max_epochs": 20}
    a = TorchMLPClassifier(**params, random_state=1).fit(X_train, y_train)
    b = TorchMLPClassifier(**params, random_state=1).fit(X_train, y_train)
    c = TorchMLPClassifier(**params, random_state=2).fit(X_train, y_train)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


def test_fit_leaves_the_global_rng_and_thread_count_as_found() -> None:
    X, y = blobs()
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    TorchMLPClassifier(max_epochs=3, n_jobs=1, dropout=0.5, random_state=0).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_no_torch_objects_after_fit() -> None:
    X, y = blobs()
    model = TorchMLPClassifier(max_epochs=5, random_state=0).fit(X, y)
    payload = pickle.dumps(model)
    assert torch_modules(payload) == set()
    assert all(isinstance(w, np.ndarray) for w in model.coefs_ + model.intercepts_)
    for value in vars(model).values():
        assert type(value).__module__.split(".")[0] != "torch"
    expected = model.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(payload).predict_proba(X), expected)
    np.testing.assert_array_equal(copy.deepcopy(model).predict_proba(X), expected)


def test_a_fitted_model_predicts_where_torch_cannot_be_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    payload = pickle.dumps(TorchMLPRegressor(max_epochs=5, random_state=0).fit(X, y))
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert pickle.loads(payload).predict(X).shape == (60,)
    with pytest.raises(MissingDependencyError) as info:
        TorchMLPRegressor().fit(X, y)
    assert "pip install 'modelyard[torch]' (torch==2.13.0)" in str(info.value)


def test_clone_gives_an_unfitted_copy_with_the_same_params() -> None:
    X, y = blobs()
    model = TorchMLPClassifier(hidden_layer_sizes=(8, 4), max_epochs=3, random_state=4).fit(X, y)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numpy_forward_matches_torch(activation: str) -> None:
    X, y = blobs()
    model = TorchMLPClassifier(
        hidden_layer_sizes=(8, 6), activation=activation, max_epochs=5, random_state=0
    ).fit(X, y)
    make = {
        "relu": torch.nn.ReLU,
        "tanh": torch.nn.Tanh,
        "logistic": torch.nn.Sigmoid,
        "gelu": torch.nn.GELU,
    }
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
        linear = torch.nn.Linear(*w.shape)
        linear.weight.data = torch.tensor(w.T)
        linear.bias.data = torch.tensor(b)
        layers += [linear] if i == len(model.coefs_) - 1 else [linear, make[activation]()]
    with torch.no_grad():
        logits = torch.nn.Sequential(*layers)(torch.tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(model.predict_proba(X), torch.softmax(logits, 1).numpy(), atol=1e-5)


def test_string_labels_multiclass_and_classes_order() -> None:
    X, y = blobs(classes=4)
    labels = np.array(["d", "b", "a", "c"])[y]
    model = TorchMLPClassifier(max_epochs=30, learning_rate=1e-2, random_state=0).fit(X, labels)
    assert list(model.classes_) == ["a", "b", "c", "d"]
    assert (model.predict(X) == labels).mean() > 0.9


def test_multi_output_regression() -> None:
    X, y = make_regression(n_samples=80, n_features=4, n_targets=3, random_state=0)
    model = TorchMLPRegressor(max_epochs=5, random_state=0).fit(X, y)
    assert model.predict(X).shape == (80, 3)
    assert model.n_outputs_ == 3


def test_without_early_stopping_all_epochs_run() -> None:
    X, y = blobs()
    model = TorchMLPClassifier(max_epochs=7, early_stopping=False, random_state=0).fit(X, y)
    assert model.n_iter_ == 7
    assert model.validation_loss_curve_ == []


@pytest.mark.parametrize("n", [1, 2, 3, 9])
def test_too_few_rows_for_a_validation_split_train_on_all(n: int) -> None:
    X = np.arange(n * 2, dtype=float).reshape(n, 2)
    model = TorchMLPRegressor(max_epochs=3, random_state=0).fit(X, np.arange(n, dtype=float))
    assert model.predict(X).shape == (n,)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"activation": "swish"}, "activation must be one of"),
        ({"dropout": 1.0}, "dropout must be in [0, 1)"),
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes must be positive ints"),
        ({"hidden_layer_sizes": ("8",)}, "hidden_layer_sizes must be positive ints"),
        ({"validation_fraction": 0.0}, "validation_fraction must be in (0, 1)"),
        ({"learning_rate": -1.0}, "learning_rate must be > 0"),
        ({"batch_size": 0}, "batch_size must be > 0"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
        ({"device": "quantum"}, "unknown device 'quantum'"),
    ],
)
def test_bad_hyperparameters(params: dict[str, Any], fragment: str) -> None:
    X, y = blobs()
    with pytest.raises(ValidationError) as info:
        TorchMLPClassifier(**params).fit(X, y)
    assert fragment in str(info.value)


def test_one_class_and_hostile_inputs() -> None:
    X, y = blobs()
    with pytest.raises(ValueError, match="at least two classes"):
        TorchMLPClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="NaN"):
        TorchMLPClassifier().fit(np.where(X > 3, np.nan, X), y)
    model = TorchMLPClassifier(max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2])


def test_divergence_is_reported() -> None:
    X, y = blobs()
    with pytest.raises(ValidationError, match="diverged"):
        TorchMLPRegressor(learning_rate=1.0, random_state=0).fit(X * 1e30, y.astype(float))


def test_many_rows_single_epoch() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = TorchMLPClassifier(max_epochs=1, batch_size=1024, random_state=0).fit(X, y)
    assert (model.predict(X) == y).mean() > 0.9
