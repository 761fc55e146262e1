"""The training spec: what to train, how to validate, how long to search, how to choose.

Declared in YAML or Python::

    task: binary                 # detected from the target when omitted
    metric: roc_auc              # the primary metric; others are reported too
    families:                    # default: the task's default families
      lightgbm: {num_leaves: {low: 8, high: 64, log: true}}
      linear: {}
    cv: {kind: stratified, folds: 5}
    holdout: {split: default, part: test}     # or {fraction: 0.2}
    tuning: {trials: 50, time_budget: 10m, n_jobs: 2, executor: local}
    selection: {prefer_simpler_within: 0.002, max_latency_ms: 5, max_size_mb: 50}
    ensembles: {average: true, stacking: true, top_k: 3}
    features: {...}              # a modelyard.features spec
    seed: 0
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelyard._utils.yaml_source import load_yaml_source
from modelyard.exceptions import ValidationError

__all__ = [
    "CVSpec",
    "EnsembleSpec",
    "HoldoutSpec",
    "SelectionSpec",
    "TrainSpec",
    "TuningSpec",
    "parse_duration",
]

_CV_KINDS = ("auto", "kfold", "stratified", "timeseries")
_EXECUTORS = ("local", "ray")
_TASKS = ("binary", "multiclass", "regression")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1.5h"`` (None stays None).

    Raises:
        ValidationError: Not a positive duration.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"bad duration {value!r}; write e.g. 90, 90s, 10m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value))
        if match is None:
            raise ValidationError(f"bad duration {str(value)[:40]!r}; write e.g. 90s, 10m or 1h")
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds <= 0:
        raise ValidationError(f"a duration must be positive, got {value!r}")
    return seconds


@dataclass(frozen=True)
class CVSpec:
    """Cross-validation: ``auto`` is stratified for classification, k-fold otherwise."""

    kind: str = "auto"
    folds: int = 5
    time_column: str | None = None

    def __post_init__(self) -> None:
        _choice("cv.kind", self.kind, _CV_KINDS)
        _int_range("cv.folds", self.folds, 2, 100)


@dataclass(frozen=True)
class HoldoutSpec:
    """The rows scored once at the end: a recorded split's part, or a fraction."""

    split: str | None = None
    part: str = "test"
    fraction: float = 0.2

    def __post_init__(self) -> None:
        if not isinstance(self.fraction, int | float) or not 0 < self.fraction < 0.9:
            raise ValidationError(f"holdout.fraction must be in (0, 0.9), got {self.fraction!r}")


@dataclass(frozen=True)
class TuningSpec:
    """How long to search, and where the trials run."""

    trials: int = 20
    time_budget: float | None = None
    n_jobs: int = 1
    executor: str = "local"
    ray_address: str | None = None
    pruning: bool = True

    def __post_init__(self) -> None:
        _int_range("tuning.trials", self.trials, 0, 100_000)
        _int_range("tuning.n_jobs", self.n_jobs, 1, 256)
        _choice("tuning.executor", self.executor, _EXECUTORS)
        object.__setattr__(self, "time_budget", parse_duration(self.time_budget))


@dataclass(frozen=True)
class SelectionSpec:
    """How the winner is chosen: the best primary score within the budgets, preferring
    a simpler model when it is within ``prefer_simpler_within`` of the best."""

    prefer_simpler_within: float = 0.0
    max_latency_ms: float | None = None
    max_size_mb: float | None = None

    def __post_init__(self) -> None:
        for name in ("prefer_simpler_within", "max_latency_ms", "max_size_mb"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ValidationError(f"selection.{name} must be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class EnsembleSpec:
    """Averaging and stacking of the top-k single candidates."""

    average: bool = True
    stacking: bool = False
    top_k: int = 3

    def __post_init__(self) -> None:
        _int_range("ensembles.top_k", self.top_k, 2, 20)


@dataclass(frozen=True)
class TrainSpec:
    """Everything a training job needs besides the data and the target."""

    task: str | None = None
    metric: str | None = None
    metrics: tuple[str, ...] = ()
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    cv: CVSpec = field(default_factory=CVSpec)
    holdout: HoldoutSpec = field(default_factory=HoldoutSpec)
    tuning: TuningSpec = field(default_factory=TuningSpec)
    selection: SelectionSpec = field(default_factory=SelectionSpec)
    ensembles: EnsembleSpec = field(default_factory=EnsembleSpec)
    features: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task is not None:
            _choice("task", self.task, _TASKS)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValidationError(f"seed must be an integer, got {self.seed!r}")

    @classmethod
    def from_yaml(cls, source: str | Path) -> TrainSpec:
        """Parse a YAML file (path) or YAML text.

        Raises:
            ValidationError: Unreadable, not YAML (the message gives the line), or not
                a valid spec.
            NotFoundError: ``source`` names a file that does not exist.
        """
        loaded = load_yaml_source(source, "training spec")
        return cls.from_dict(loaded or {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSpec:
        """Build a spec from a mapping (what the YAML holds).

        Raises:
            ValidationError: Unknown keys (the message lists the valid ones) or bad values.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"a training spec is a mapping, not {type(data).__name__}")
        _known("the training spec", data, _TOP_KEYS)
        families = data.get("families") or {}
        if isinstance(families, list | tuple):
            families = {str(name): {} for name in families}
        if not isinstance(families, Mapping):
            raise ValidationError("families must be a list of names or a mapping name -> space")
        return cls(
            task=data.get("task"),
            metric=data.get("metric"),
            metrics=tuple(data.get("metrics") or ()),
            families={str(k): dict(v or {}) for k, v in families.items()},
            cv=_sub(CVSpec, "cv", data.get("cv")),
            holdout=_sub(HoldoutSpec, "holdout", data.get("holdout")),
            tuning=_sub(TuningSpec, "tuning", data.get("tuning")),
            selection=_sub(SelectionSpec, "selection", data.get("selection")),
            ensembles=_sub(EnsembleSpec, "ensembles", data.get("ensembles")),
            features=dict(data.get("features") or {}),
            seed=data.get("seed", 0),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping that :meth:`from_dict` turns back into this spec."""
        doc = asdict(self)
        doc["metrics"] = list(self.metrics)
        return doc


_TOP_KEYS = (
    "task",
    "metric",
    "metrics",
    "families",
    "cv",
    "holdout",
    "tuning",
    "selection",
    "ensembles",
    "features",
    "seed",
)


def _sub(kind: type[Any], name: str, value: Any) -> Any:
    if value is None:
        return kind()
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be a mapping, not {type(value).__name__}")
    valid = tuple(kind.__dataclass_fields__)
    _known(name, value, valid)
    try:
        return kind(**value)
    except TypeError as exc:
        raise ValidationError(f"bad {name}: {exc}") from None


def _known(where: str, data: Mapping[str, Any], valid: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in data if k not in valid)
    if unknown:
        raise ValidationError(
            f"unknown key(s) in {where}: {', '.join(unknown)}; valid: {', '.join(valid)}"
        )


def _choice(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValidationError(f"{name}={value!r} is not valid; use one of {', '.join(valid)}")


def _int_range(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}, got {value!r}")
