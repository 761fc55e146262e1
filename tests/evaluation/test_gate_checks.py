"""Checking promotion gates: every kind against a context, sources, fallbacks and failures."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest

from modelyard.evaluation.gate_checks import check_gates
from modelyard.evaluation.gates import Gate, GateContext, GateResult, parse_gates
from modelyard.exceptions import ValidationError
from modelyard.training import metric_names
from tests.evaluation.test_gates import ISSUE_GATES


def evaluation(**metrics: float | None) -> dict[str, Any]:
    """A stored evaluation document with these metric values and clean checks."""
    return {
        "metrics": {k: {"value": v, "ci_low": None, "ci_high": None} for k, v in metrics.items()},
        "fairness": {
            "column": "region",
            "demographic_parity_difference": 0.06,
            "equalized_odds_difference": 0.14,
        },
        "checks": {
            "leakage": [
                {"feature": "age", "score": 0.55, "metric": "roc_auc", "flagged": False},
                {"feature": "plan", "score": 0.61, "metric": "roc_auc", "flagged": False},
            ],
            "duplicates": {"shared_rows": 4, "test_rows": 1000, "fraction": 0.004},
            "shift": [],
        },
    }


def context(**overrides: Any) -> GateContext:
    """A binary-task context where every gate of ISSUE_GATES passes unless overridden."""
    fields: dict[str, Any] = {
        "task": "binary",
        "evaluation": evaluation(roc_auc=0.84, log_loss=0.41),
        "metrics": {"roc_auc": 0.83, "accuracy": 0.79},
        "baselines": {"champion": {"roc_auc": 0.842, "log_loss": 0.40}},
        "latency": {
            "onnx": {
                "single_p50_ms": 0.8,
                "single_p99_ms": 2.5,
                "batch_p50_ms": 11.0,
                "batch_p99_ms": 19.0,
            }
        },
        "size_mb": {"onnx": 12.5, "skops": 30.0},
        "ref": "churn@4",
    }
    return GateContext(**(fields | overrides))


def only(source: Any, ctx: GateContext) -> GateResult:
    """Parse one gate and check it."""
    (result,) = check_gates(parse_gates(source), ctx)
    return result


def test_no_gates_give_no_results() -> None:
    assert check_gates([], context()) == []


def test_the_issue_gates_all_pass_with_measured_values() -> None:
    results = check_gates(parse_gates(ISSUE_GATES), context())
    assert [r.passed for r in results] == [True] * 7
    assert [r.reason for r in results] == [
        "roc_auc 0.84 >= 0.8",
        "roc_auc fell 0.002 below champion (0.842 -> 0.84), within tolerance 0.005",
        "demographic_parity_difference by region 0.06 <= 0.1",
        "onnx single-row p99 latency 2.5 ms <= 5 ms",
        "onnx size 12.5 MB <= 50 MB",
        "no leakage flagged (2 features checked)",
        "duplicates_fraction 0.004 <= 0.01 (4 of 1,000 test rows also in training)",
    ]
    assert [r.measured for r in results] == [0.84, 0.84, 0.06, 2.5, 12.5, 0.0, 0.004]


def test_every_gate_is_checked_even_after_failures() -> None:
    ctx = context(
        evaluation=evaluation(roc_auc=0.70) | {"fairness": None, "checks": {}},
        latency={"onnx": {"single_p99_ms": 9.0}},
        size_mb={"onnx": 64.0},
    )
    results = check_gates(parse_gates(ISSUE_GATES), ctx)
    assert [r.passed for r in results] == [False] * 7
    assert results[0].reason == "roc_auc 0.7 is below 0.8"
    assert results[1].reason == "roc_auc fell 0.142 below champion (0.842 -> 0.7), tolerance 0.005"
    assert results[1].threshold == pytest.approx(0.837)
    assert results[2].reason == (
        "no evaluation for column region: run `modelyard models evaluate churn@4 --sensitive region`"
    )
    assert results[3].reason == "onnx single-row p99 latency 9 ms is above 5 ms"
    assert results[4].reason == "onnx size 64 MB is above 50 MB"
    assert (
        results[5].reason
        == "the evaluation has no leakage check: run `modelyard models evaluate churn@4`"
    )
    assert results[6].reason.startswith("the evaluation has no duplicates check")


@pytest.mark.parametrize(
    ("condition", "passed", "reason"),
    [
        ("accuracy >= 0.79", True, "accuracy 0.79 >= 0.79"),
        ("accuracy > 0.79", False, "accuracy 0.79 is not above 0.79"),
        ("log_loss <= 0.4", False, "log_loss 0.41 is above 0.4"),
        ("log_loss < 0.5", True, "log_loss 0.41 < 0.5"),
        ("log_loss == 0.41", True, "log_loss 0.41 == 0.41"),
        ("log_loss == 0.4", False, "log_loss 0.41 is not equal to 0.4"),
        ("roc_auc >= 0.84000001", False, "roc_auc 0.84 is below 0.84000001"),
    ],
)
def test_metric_operators(condition: str, passed: bool, reason: str) -> None:
    ctx = context(evaluation=evaluation(roc_auc=0.84, log_loss=0.41, accuracy=0.79))
    result = only([{"metric": condition}], ctx)
    assert (result.passed, result.reason, result.kind) == (passed, reason, "metric")


def test_metric_sources_and_undefined_values() -> None:
    holdout = only("- metric: accuracy >= 0.75", context())  # not in the evaluation
    assert holdout.passed
    assert holdout.reason == "accuracy 0.79 >= 0.75 (from the training holdout)"
    for value in (None, math.nan):
        ctx = context(evaluation=evaluation(roc_auc=value))
        undefined = only("- metric: roc_auc >= 0.5", ctx)
        assert not undefined.passed
        assert undefined.measured is None
        assert undefined.reason == "roc_auc is undefined (NaN or missing) in the evaluation"
    unmeasured = only("- metric: f1 >= 0.5", context())
    assert not unmeasured.passed
    assert "f1 was not measured" in unmeasured.reason
    assert "modelyard models evaluate churn@4" in unmeasured.reason


def test_metric_names_are_checked_against_the_task() -> None:
    with pytest.raises(ValidationError, match="valid: " + ", ".join(metric_names("binary"))):
        check_gates(parse_gates("- metric: rmse <= 3"), context())
    with pytest.raises(ValidationError, match=r"gates\[1\]: .*'roc_acu'; did you mean 'roc_auc'"):
        check_gates(parse_gates("- size: {mb: 5}\n- no_regression: roc_acu\n"), context())
    regression = context(task="regression", evaluation=evaluation(rmse=2.0))
    assert only("- metric: rmse <= 3", regression).passed
    # a metric the evaluation reports beyond the training set is gateable
    extra = context(evaluation=evaluation(average_precision=0.7))
    assert only("- metric: average_precision >= 0.6", extra).passed


@pytest.mark.parametrize(
    ("metric", "candidate", "champion", "tolerance", "passed", "reason"),
    [
        ("roc_auc", 0.84, 0.852, 0.005, False, "roc_auc fell 0.012 below champion (0.852 -> 0.84), tolerance 0.005"),
        ("roc_auc", 0.847, 0.852, 0.005, True, "roc_auc fell 0.005 below champion (0.852 -> 0.847), within tolerance 0.005"),
        ("roc_auc", 0.86, 0.852, 0.0, True, "roc_auc improved on champion (0.852 -> 0.86)"),
        ("roc_auc", 0.852, 0.852, 0.0, True, "roc_auc matches champion (0.852 -> 0.852)"),
        ("log_loss", 0.33, 0.30, 0.005, False, "log_loss rose 0.03 above champion (0.3 -> 0.33; lower is better), tolerance 0.005"),
        ("log_loss", 0.28, 0.30, 0.0, True, "log_loss improved on champion (0.3 -> 0.28; lower is better)"),
    ],
)  # fmt: skip
def test_no_regression_knows_which_way_is_better(
    metric: str, candidate: float, champion: float, tolerance: float, passed: bool, reason: str
) -> None:
    ctx = context(
        evaluation=evaluation(**{metric: candidate}), baselines={"champion": {metric: champion}}
    )
    result = only([{"no_regression": {"metric": metric, "tolerance": tolerance}}], ctx)
    assert (result.passed, result.reason, result.measured) == (passed, reason, candidate)
    expected_limit = champion - tolerance if metric == "roc_auc" else champion + tolerance
    assert result.threshold == pytest.approx(expected_limit)


def test_no_regression_without_a_baseline_passes() -> None:
    gate = "- no_regression: {metric: roc_auc, vs: challenger}"
    for baselines in ({}, {"challenger": None}):
        result = only(gate, context(baselines=baselines))
        assert result.passed
        assert result.reason == "no challenger yet: nothing to regress from"
    empty = only(gate, context(baselines={"challenger": {"accuracy": 0.9}}))
    assert empty.passed
    assert empty.reason == "challenger has no defined roc_auc: nothing to regress from"
    nan_candidate = only(gate, context(evaluation=evaluation(roc_auc=math.nan)))
    assert not nan_candidate.passed  # the candidate must be measured to be compared


def test_fairness_for_another_column_is_computed_once_per_column() -> None:
    calls: list[str] = []

    def fairness_for(column: str) -> Mapping[str, Any] | None:
        calls.append(column)
        if column == "unknown":
            raise ValidationError(f"column {column!r} is not in the evaluation data")
        if column == "none":
            return None
        return {
            "column": column,
            "demographic_parity_difference": 0.25,
            "equalized_odds_difference": math.nan,
        }

    ctx = context(fairness_for=fairness_for)
    results = check_gates(
        parse_gates(
            "- fairness: {column: sex, demographic_parity_difference: 0.2,"
            " equalized_odds_difference: 0.2}\n"
            "- fairness: {column: region, equalized_odds_difference: < 0.1}\n"
            "- fairness: {column: unknown, demographic_parity_difference: 0.2}\n"
            "- fairness: {column: none, demographic_parity_difference: 0.2}\n"
        ),
        ctx,
    )
    assert calls == ["sex", "unknown", "none"]  # region comes from the stored evaluation
    assert [r.passed for r in results] == [False] * 5
    assert [r.reason for r in results] == [
        "demographic_parity_difference by sex 0.25 is above 0.2",
        "equalized_odds_difference by sex is undefined (e.g. a group with no rows or one class)",
        "equalized_odds_difference by region 0.14 is not below 0.1",
        "fairness by 'unknown' could not be computed: column 'unknown' is not in the evaluation data",
        "no evaluation for column none: run `modelyard models evaluate churn@4 --sensitive none`",
    ]
    assert results[0].measured == 0.25


def test_latency_and_size_fall_back_to_the_format_that_would_serve() -> None:
    ctx = context(
        latency={"skops": {"single_p50_ms": 1.5, "batch_p99_ms": 40.0}},
        size_mb={"skops": 30.0},
        unavailable={"onnx": "skl2onnx cannot convert this estimator"},
    )
    p50, batch, size = check_gates(
        parse_gates("- latency: {p50_ms: 2, batch_p99_ms: 25}\n- size: {mb: 50}"), ctx
    )
    note = "onnx is unavailable (skl2onnx cannot convert this estimator); measured skops, which would serve: "
    assert (p50.passed, p50.reason) == (True, note + "skops single-row p50 latency 1.5 ms <= 2 ms")
    assert (batch.passed, batch.reason) == (
        False,
        note + "skops batch p99 latency 40 ms is above 25 ms",
    )
    assert (size.passed, size.measured) == (True, 30.0)
    no_reason = only("- size: {mb: 20}", context(size_mb={"skops": 30.0}))
    assert no_reason.reason.startswith("onnx is unavailable (no ONNX package was made")
    assert not no_reason.passed


def test_latency_not_measured_fails_with_what_was() -> None:
    skops = only("- latency: {p99_ms: 5, format: skops}", context())
    assert not skops.passed
    assert skops.reason == (
        "single-row p99 latency was not measured for format skops (measured formats: onnx)"
    )
    nothing = only("- size: {mb: 5, format: onnx-int8}", context(size_mb={}))
    assert nothing.reason == "size was not measured for format onnx-int8 (measured formats: none)"
    partial = only("- latency: {batch_p50_ms: 5}", context(latency={"onnx": {"single_p50_ms": 1}}))
    assert partial.reason == "onnx batch p50 latency is missing or undefined"


def test_checks_flag_leakage_and_duplicates() -> None:
    leaky = evaluation(roc_auc=0.99)
    leaky["checks"]["leakage"].append(
        {"feature": "cancel_date", "score": 0.998, "metric": "roc_auc", "flagged": True}
    )
    leaky["checks"]["duplicates"] = {"shared_rows": 30, "test_rows": 1000, "fraction": 0.03}
    leakage, duplicates = check_gates(
        parse_gates("- checks: {leakage: false, duplicates_fraction: 0.01}"),
        context(evaluation=leaky),
    )
    assert (leakage.passed, leakage.measured) == (False, 1.0)
    assert leakage.reason == "leakage flagged for 1 of 3 features: cancel_date (roc_auc 0.998)"
    assert not duplicates.passed
    assert duplicates.reason == (
        "duplicates_fraction 0.03 is above 0.01 (30 of 1,000 test rows also in training)"
    )
    no_evaluation = check_gates(parse_gates("- checks: {leakage: false}"), context(evaluation=None))
    assert not no_evaluation[0].passed


def test_results_round_trip_through_json() -> None:
    results = check_gates(parse_gates(ISSUE_GATES), context())
    stored = json.loads(json.dumps([r.to_dict() for r in results]))
    assert [GateResult.from_dict(d) for d in stored] == results
    undefined = GateResult("f1 >= 0.5", "metric", False, math.nan, 0.5, "f1 is undefined")
    assert undefined.to_dict()["measured"] is None


def test_hand_built_gates_of_unknown_kind_or_measure_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown gate kind 'speed'"):
        check_gates([Gate("speed", "fast")], context())
    with pytest.raises(ValidationError, match=r"unknown latency measure 'p95_ms'.*'p99_ms'"):
        check_gates([Gate("latency", "p95_ms", "<=", 5.0, format="onnx")], context())
    hand_built = Gate("latency", "p99_ms", "<=", 5.0, format="onnx")
    assert hand_built == parse_gates("- latency: {p99_ms: 5}")[0]
    assert check_gates([hand_built], context())[0].passed
