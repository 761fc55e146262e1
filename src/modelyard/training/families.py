"""The model-family registry: what ``train`` can fit, and how to build each one.

A :class:`Family` turns ``(params, task, seed, n_jobs)`` into an unfitted
scikit-learn estimator that accepts numpy float arrays (what the preprocessing
produces) and, for classifiers, has ``predict_proba``. Each family ships a
default search space; parameters missing from ``params`` take the family's
defaults, so ``family.build({}, task, seed, n_jobs)`` is the untuned baseline.
The same params and seed build a model that fits to the same predictions.

=========================  ==========  =====================================  =======
family                     complexity  estimator                              default
=========================  ==========  =====================================  =======
``linear``                 1           LogisticRegression / Ridge             yes
``random_forest``          2           RandomForest{Classifier,Regressor}     yes
``extra_trees``            2           ExtraTrees{Classifier,Regressor}       no
``hist_gradient_boosting`` 3           HistGradientBoosting{...}              yes
``lightgbm``               3           LGBM{Classifier,Regressor}             yes
``xgboost``                3           XGB{Classifier,Regressor}              yes
``torch_mlp``              4           TorchMLP{Classifier,Regressor}         no
=========================  ==========  =====================================  =======

``torch_mlp`` is left out of :func:`default_families` because it is slow on CPU;
name it explicitly. XGBoost classifiers need labels encoded as ``0..k-1``
(``Family.needs_encoded_labels``); the other families take any labels.
``hist_gradient_boosting`` has no ``n_jobs``: it uses OpenMP threads (limit them
with threadpoolctl or ``OMP_NUM_THREADS``).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from modelyard.exceptions import MissingDependencyError, ValidationError
from modelyard.training.space import Param, sample_defaults, unknown_name_message

__all__ = [
    "CLASSIFICATION",
    "TASKS",
    "Family",
    "default_families",
    "family_names",
    "get_family",
    "is_available",
    "require_available",
]

TASKS = ("binary", "multiclass", "regression")
CLASSIFICATION = frozenset({"binary", "multiclass"})
_ALL_TASKS = frozenset(TASKS)
_DEFAULT_FAMILIES = ("linear", "random_forest", "hist_gradient_boosting", "lightgbm", "xgboost")

Builder = Callable[[Mapping[str, Any], str, int, int], Any]


@dataclass(frozen=True)
class Family:
    """A model family: its estimator, search space and defaults.

    Args:
        name: Registry name (``"lightgbm"``).
        tasks: The tasks it supports (a subset of :data:`TASKS`).
        build: ``(params, task, seed, n_jobs) -> unfitted estimator``; missing
            params take :attr:`defaults`, params of other tasks are ignored, and
            names outside :attr:`space` raise ValidationError.
        space: The default search space over every settable parameter (fixed
            ones are one-choice Params); see :meth:`space_for`.
        defaults: The untuned baseline, ``sample_defaults(space)``.
        complexity: 1 = simplest; selection prefers simpler models within a tolerance.
        linear: Whether AIC/BIC apply (a linear model with a likelihood).
        extra: The pip extra that installs its library, or None for core libraries.
        module: The library imported lazily to check availability, or None.
        task_only: Parameters that apply only to some tasks (``C`` to classification).
        needs_encoded_labels: The classifier needs labels ``0..k-1``.
    """

    name: str
    tasks: frozenset[str]
    build: Builder
    space: Mapping[str, Param]
    defaults: Mapping[str, Any]
    complexity: int
    linear: bool = False
    extra: str | None = None
    module: str | None = None
    task_only: Mapping[str, frozenset[str]] = field(default_factory=dict)
    needs_encoded_labels: bool = False

    def space_for(self, task: str) -> dict[str, Param]:
        """The search space of the parameters that apply to ``task``.

        Args:
            task: One of :data:`TASKS`.

        Returns:
            The default space without the parameters of other tasks.
        """
        return {k: p for k, p in self.space.items() if task in self.task_only.get(k, _ALL_TASKS)}

    def defaults_for(self, task: str) -> dict[str, Any]:
        """The untuned baseline params that apply to ``task``.

        Args:
            task: One of :data:`TASKS`.

        Returns:
            ``{name: value}``.
        """
        return {k: v for k, v in self.defaults.items() if task in self.task_only.get(k, _ALL_TASKS)}


def _check_task(task: object) -> str:
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}; valid: {', '.join(TASKS)}", task=str(task))
    return str(task)


def _build_checked(
    name: str, builder: Builder, params: Mapping[str, Any], task: str, seed: int, n_jobs: int
) -> Any:
    """Validate task and params, fill in defaults, then call the family's builder."""
    family = get_family(name)
    if _check_task(task) not in family.tasks:
        raise ValidationError(
            f"model family '{name}' does not support task '{task}'; it supports "
            f"{', '.join(sorted(family.tasks))}",
            family=name,
            task=task,
        )
    for key in params:
        if key not in family.space:
            where = f" for model family '{name}'"
            raise ValidationError(
                unknown_name_message("parameter", key, family.space, where),
                family=name,
                parameter=str(key),
            )
    require_available(name)
    baseline = family.defaults_for(task)
    # params of other tasks (C for a regression) are dropped, so one space serves every task
    return builder(
        {**baseline, **{k: v for k, v in params.items() if k in baseline}}, task, seed, n_jobs
    )


# --- the builders; each receives complete params (defaults filled in) ---------------------


def _build_linear(p: Mapping[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        return Ridge(alpha=p["alpha"], random_state=seed)
    # lbfgs handles only the pure L2 penalty; any L1 share needs saga
    solver = "lbfgs" if p["l1_ratio"] == 0 else "saga"
    return LogisticRegression(
        C=p["C"],
        l1_ratio=p["l1_ratio"],
        class_weight=p["class_weight"],
        solver=solver,
        max_iter=p["max_iter"],
        random_state=seed,
    )


def _build_forest(extra: bool) -> Builder:
    def build(p: Mapping[str, Any], task: str, seed: int, n_jobs: int) -> Any:
        from sklearn import ensemble

        kind = "ExtraTrees" if extra else "RandomForest"
        if task == "regression":
            return getattr(ensemble, f"{kind}Regressor")(**p, random_state=seed, n_jobs=n_jobs)
        return getattr(ensemble, f"{kind}Classifier")(**p, random_state=seed, n_jobs=n_jobs)

    return build


def _build_hgb(p: Mapping[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "regression":
        return HistGradientBoostingRegressor(**p, random_state=seed)
    return HistGradientBoostingClassifier(**p, random_state=seed)


def _build_lightgbm(p: Mapping[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    import lightgbm

    # deterministic + force_row_wise: the same seed and thread count give the same trees
    common: dict[str, Any] = {
        "random_state": seed,
        "n_jobs": n_jobs,
        "verbose": -1,
        "deterministic": True,
    }
    if task == "regression":
        return lightgbm.LGBMRegressor(**p, **common, force_row_wise=True)
    return lightgbm.LGBMClassifier(**p, **common, force_row_wise=True)


def _build_xgboost(p: Mapping[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    import xgboost

    metric = {"binary": "logloss", "multiclass": "mlogloss", "regression": "rmse"}[task]
    common = {"tree_method": "hist", "random_state": seed, "n_jobs": n_jobs, "eval_metric": metric}
    if task == "regression":
        return xgboost.XGBRegressor(**p, **common)
    return xgboost.XGBClassifier(**p, **common)


def _build_torch_mlp(p: Mapping[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from modelyard.training.torch_mlp import TorchMLPClassifier, TorchMLPRegressor

    params = dict(p)
    n_layers, units = params.pop("n_layers"), params.pop("units")
    if params["hidden_layer_sizes"] is None:
        # a funnel: units, units/2, ... e.g. (64, 32), the estimator's own default
        params["hidden_layer_sizes"] = tuple(max(units // 2**i, 4) for i in range(n_layers))
    cls = TorchMLPRegressor if task == "regression" else TorchMLPClassifier
    return cls(**params, random_state=seed, n_jobs=n_jobs)


# --- the default spaces -------------------------------------------------------------------


def _num(kind: str, low: float, high: float, default: float, *, log: bool = False) -> Param:
    return Param(kind, low, high, log=log, default=default)  # type: ignore[arg-type]


_CLASS_WEIGHT = Param("categorical", choices=(None, "balanced"))

_LINEAR = {
    "C": _num("float", 1e-3, 1e2, 1.0, log=True),
    "class_weight": _CLASS_WEIGHT,
    "l1_ratio": Param.fixed(0.0),
    "max_iter": Param.fixed(2000),
    "alpha": _num("float", 1e-3, 1e3, 1.0, log=True),
}
_FOREST = {
    "n_estimators": _num("int", 50, 500, 200, log=True),
    "max_depth": Param("categorical", choices=(None, 4, 8, 16, 32)),
    "min_samples_leaf": _num("int", 1, 32, 1, log=True),
    "max_features": _num("float", 0.1, 1.0, 0.5),
    "class_weight": Param("categorical", choices=(None, "balanced", "balanced_subsample")),
}
_HGB = {
    "learning_rate": _num("float", 0.01, 0.3, 0.1, log=True),
    "max_iter": _num("int", 50, 800, 100, log=True),
    "max_leaf_nodes": _num("int", 8, 256, 31, log=True),
    "min_samples_leaf": _num("int", 5, 100, 20, log=True),
    "l2_regularization": _num("float", 1e-8, 10.0, 1e-8, log=True),
    "max_features": _num("float", 0.5, 1.0, 1.0),
    "early_stopping": Param.fixed("auto"),
    "class_weight": _CLASS_WEIGHT,
}
_LIGHTGBM = {
    "n_estimators": _num("int", 50, 800, 100, log=True),
    "learning_rate": _num("float", 0.01, 0.3, 0.1, log=True),
    "num_leaves": _num("int", 8, 256, 31, log=True),
    "min_child_samples": _num("int", 5, 100, 20, log=True),
    "subsample": _num("float", 0.5, 1.0, 1.0),
    "subsample_freq": Param.fixed(1),  # without it LightGBM ignores subsample
    "colsample_bytree": _num("float", 0.5, 1.0, 1.0),
    "reg_lambda": _num("float", 1e-8, 10.0, 1e-8, log=True),
    "class_weight": _CLASS_WEIGHT,
}
_XGBOOST = {
    "n_estimators": _num("int", 50, 800, 100, log=True),
    "learning_rate": _num("float", 0.01, 0.3, 0.3, log=True),
    "max_depth": _num("int", 2, 12, 6),
    "min_child_weight": _num("float", 0.1, 20.0, 1.0, log=True),
    "subsample": _num("float", 0.5, 1.0, 1.0),
    "colsample_bytree": _num("float", 0.5, 1.0, 1.0),
    "reg_lambda": _num("float", 1e-3, 10.0, 1.0, log=True),
    "reg_alpha": _num("float", 1e-8, 1.0, 1e-8, log=True),
}
_TORCH_MLP = {
    "n_layers": _num("int", 1, 3, 2),
    "units": _num("int", 16, 256, 64, log=True),
    "hidden_layer_sizes": Param.fixed(None),  # fix e.g. {value: [128, 64]} to override the funnel
    "activation": Param("categorical", choices=("relu", "tanh", "gelu")),
    "dropout": _num("float", 0.0, 0.5, 0.0),
    "learning_rate": _num("float", 1e-4, 1e-2, 1e-3, log=True),
    "weight_decay": _num("float", 1e-6, 1e-2, 1e-4, log=True),
    "batch_size": Param("categorical", choices=(64, 32, 128, 256)),
    "max_epochs": Param.fixed(200),
    "early_stopping": Param.fixed(True),
    "validation_fraction": Param.fixed(0.1),
    "patience": Param.fixed(10),
    "device": Param.fixed("auto"),
}
_CLASSIFY_ONLY = frozenset({"class_weight"})


def _family(
    name: str,
    builder: Builder,
    space: Mapping[str, Param],
    complexity: int,
    *,
    only: Mapping[str, frozenset[str]] | None = None,
    **extra: Any,
) -> Family:
    task_only = dict.fromkeys(_CLASSIFY_ONLY & set(space), CLASSIFICATION) | dict(only or {})
    build = functools.partial(_build_checked, name, builder)
    # read-only views: the registry is shared by every job in the process
    return Family(
        name,
        _ALL_TASKS,
        build,
        MappingProxyType(dict(space)),
        MappingProxyType(sample_defaults(space)),
        complexity,
        task_only=MappingProxyType(task_only),
        **extra,
    )


_CLASSIFIER_PARAMS = frozenset({"C", "l1_ratio", "max_iter"})
_REGISTRY: dict[str, Family] = {
    f.name: f
    for f in (
        _family(
            "linear",
            _build_linear,
            _LINEAR,
            1,
            linear=True,
            only=dict.fromkeys(_CLASSIFIER_PARAMS, CLASSIFICATION)
            | {"alpha": frozenset({"regression"})},
        ),
        _family("random_forest", _build_forest(extra=False), _FOREST, 2),
        _family("extra_trees", _build_forest(extra=True), _FOREST, 2),
        _family("hist_gradient_boosting", _build_hgb, _HGB, 3),
        _family("lightgbm", _build_lightgbm, _LIGHTGBM, 3, module="lightgbm"),
        _family(
            "xgboost", _build_xgboost, _XGBOOST, 3, module="xgboost", needs_encoded_labels=True
        ),
        _family("torch_mlp", _build_torch_mlp, _TORCH_MLP, 4, module="torch", extra="torch"),
    )
}


def get_family(name: str) -> Family:
    """Look up a model family by name.

    Args:
        name: A registered name, e.g. ``"lightgbm"``.

    Returns:
        The family.

    Raises:
        ValidationError: No such family (the message lists the valid names).
    """
    family = _REGISTRY.get(name) if isinstance(name, str) else None
    if family is None:
        raise ValidationError(
            unknown_name_message("model family", name, _REGISTRY, ""), family=str(name)
        )
    return family


@functools.cache
def _import_error(module: str) -> str | None:
    """Import ``module`` once; None when it imports, else why it does not."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - a broken install (missing libgomp, ...) counts as absent
        return f"{type(exc).__name__}: {exc}"
    return None


def is_available(name: str) -> bool:
    """Whether a family's library imports (imported lazily on first call, then cached).

    Args:
        name: A family name.

    Returns:
        True when the family can be built and fitted.

    Raises:
        ValidationError: No such family.
    """
    family = get_family(name)
    return family.module is None or _import_error(family.module) is None


def require_available(name: str) -> Family:
    """The family, or an error naming what to install when its library is missing.

    Args:
        name: A family name.

    Returns:
        The family.

    Raises:
        ValidationError: No such family.
        MissingDependencyError: Its library does not import.
    """
    family = get_family(name)
    reason = None if family.module is None else _import_error(family.module)
    if reason is not None:
        fix = (
            f"pip install 'modelyard[{family.extra}]'"
            if family.extra
            else "reinstall modelyard (pip install --force-reinstall modelyard): it is a core dependency"
        )
        raise MissingDependencyError(
            f"model family '{name}' needs {family.module}, which does not import ({reason}); {fix}",
            family=name,
            extra=family.extra,
        )
    return family


def family_names(task: str | None = None, *, available_only: bool = True) -> list[str]:
    """The registered family names, in registry order (simplest first).

    Args:
        task: Only families that support this task (None: all).
        available_only: Only families whose library imports.

    Returns:
        The names.

    Raises:
        ValidationError: An unknown task.
    """
    if task is not None:
        _check_task(task)
    return [
        name
        for name, family in _REGISTRY.items()
        if (task is None or task in family.tasks) and (not available_only or is_available(name))
    ]


def default_families(task: str) -> list[str]:
    """What ``train`` tries when the user names no family.

    ``torch_mlp`` and ``extra_trees`` are left out (slow on CPU, and close to
    ``random_forest`` respectively); families whose library is missing are skipped.

    Args:
        task: One of :data:`TASKS`.

    Returns:
        The names, simplest first.

    Raises:
        ValidationError: An unknown task.
    """
    available = set(family_names(task))
    return [name for name in _DEFAULT_FAMILIES if name in available]
