"""The training spec: YAML and dicts, defaults, and clear errors for typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.exceptions import ValidationError
from modelyard.training.spec import TrainSpec, parse_duration

YAML = """
task: binary
metric: roc_auc
families:
  linear: {C: {low: 0.1, high: 10, log: true}}
  lightgbm: {}
cv: {kind: stratified, folds: 3}
holdout: {split: default, part: test}
tuning: {trials: 12, time_budget: 2m, n_jobs: 2}
selection: {prefer_simpler_within: 0.002, max_latency_ms: 5}
ensembles: {average: true, stacking: true, top_k: 2}
features: {defaults: {numeric: {scale: robust}}}
seed: 7
"""


def test_a_full_yaml_spec_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(YAML)
    spec = TrainSpec.from_yaml(path)
    assert spec.task == "binary"
    assert spec.families == {"linear": {"C": {"low": 0.1, "high": 10, "log": True}}, "lightgbm": {}}
    assert (spec.cv.kind, spec.cv.folds) == ("stratified", 3)
    assert spec.tuning.time_budget == 120.0
    assert spec.selection.prefer_simpler_within == 0.002
    assert TrainSpec.from_dict(spec.to_dict()) == spec
    assert TrainSpec.from_yaml(str(path)) == spec
    assert TrainSpec.from_yaml(YAML) == spec


def test_families_may_be_a_list() -> None:
    assert TrainSpec.from_dict({"families": ["linear", "xgboost"]}).families == {
        "linear": {},
        "xgboost": {},
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"tunning": {}}, "unknown key.*tunning.*valid: task"),
        ({"cv": {"folds": 1}}, "cv.folds must be an integer from 2"),
        ({"cv": {"kind": "loo"}}, "cv.kind='loo' is not valid"),
        ({"cv": {"fold": 3}}, "unknown key.*fold"),
        ({"tuning": {"executor": "dask"}}, "use one of local, ray"),
        ({"tuning": {"time_budget": "ten minutes"}}, "bad duration"),
        ({"task": "ranking"}, "task='ranking' is not valid"),
        ({"holdout": {"fraction": 1.5}}, "holdout.fraction"),
        ({"selection": {"max_size_mb": -1}}, "max_size_mb must be a number"),
        ({"seed": "x"}, "seed must be an integer"),
        ({"families": "linear"}, "families must be"),
        ([], "mapping"),
    ],
)
def test_bad_specs_name_the_problem(doc: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainSpec.from_dict(doc)  # type: ignore[arg-type]


def test_malformed_yaml_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="training spec YAML does not parse at line 1"):
        TrainSpec.from_yaml("cv: {kind: [")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), ("500ms", 0.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5s", "10 minutes", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValidationError):
        parse_duration(text)
