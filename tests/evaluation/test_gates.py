"""Promotion gates: the gate types and parsing (YAML, files, mappings, lists; every malformed input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelyard.evaluation.gates import GateResult, gate_kinds, parse_gates
from modelyard.exceptions import NotFoundError, ValidationError

ISSUE_GATES = """\
gates:
  - metric: roc_auc >= 0.80
  - no_regression: {vs: champion, metric: roc_auc, tolerance: 0.005}
  - fairness: {column: region, demographic_parity_difference: <= 0.10}
  - latency: {p99_ms: <= 5, format: onnx}
  - size: {mb: <= 50}
  - checks: {leakage: false, duplicates_fraction: <= 0.01}
"""


def test_yaml_text_file_mapping_and_list_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(ISSUE_GATES)
    from_text = parse_gates(ISSUE_GATES)
    as_list = [g.to_dict() for g in from_text]
    assert parse_gates(path) == from_text
    assert parse_gates(str(path)) == from_text
    assert parse_gates({"gates": as_list}) == from_text
    assert parse_gates(as_list) == from_text
    assert [g.describe() for g in from_text] == [
        "roc_auc >= 0.8",
        "no regression in roc_auc vs champion (tolerance 0.005)",
        "demographic_parity_difference by region <= 0.1",
        "single-row p99 latency (onnx) <= 5 ms",
        "size (onnx) <= 50 MB",
        "no leakage flagged",
        "duplicates_fraction <= 0.01",
    ]
    assert [g.position for g in from_text] == [0, 1, 2, 3, 4, 5, 5]


def test_parsed_fields_and_defaults() -> None:
    metric, regression, latency = parse_gates(
        [{"metric": "r2>0.5"}, {"no_regression": "rmse"}, {"latency": {"batch_p99_ms": 30}}]
    )
    assert (metric.kind, metric.subject, metric.op, metric.threshold) == ("metric", "r2", ">", 0.5)
    assert (regression.subject, regression.vs, regression.tolerance) == ("rmse", "champion", 0.0)
    assert (latency.subject, latency.op, latency.threshold, latency.format) == (
        "batch_p99_ms",
        "<=",
        30.0,
        "onnx",
    )
    assert metric.to_dict() == {"metric": "r2 > 0.5"}
    precise = parse_gates([{"metric": "f1 == 0.8123456789"}, {"size": {"mb": "< 1e-3"}}])
    assert parse_gates([g.to_dict() for g in precise]) == precise


def test_one_item_naming_several_measures_becomes_one_gate_each() -> None:
    gates = parse_gates(
        "- latency: {p50_ms: 1, p99_ms: < 5, format: skops}\n"
        "- fairness: {column: sex, demographic_parity_difference: <= 0.1,"
        " equalized_odds_difference: <= 0.2}\n"
    )
    assert [(g.kind, g.subject, g.op, g.threshold, g.position) for g in gates] == [
        ("latency", "p50_ms", "<=", 1.0, 0),
        ("latency", "p99_ms", "<", 5.0, 0),
        ("fairness", "demographic_parity_difference", "<=", 0.1, 1),
        ("fairness", "equalized_odds_difference", "<=", 0.2, 1),
    ]
    assert {g.format for g in gates[:2]} == {"skops"}
    assert {g.column for g in gates[2:]} == {"sex"}


def test_an_empty_list_means_no_gates() -> None:
    assert parse_gates("gates: []") == []
    assert parse_gates([]) == []
    assert parse_gates({"gates": [], "other": "ignored"}) == []


def test_gate_kinds_lists_every_kind() -> None:
    assert gate_kinds() == ["metric", "no_regression", "fairness", "latency", "size", "checks"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- metrc: roc_auc >= 0.8",
            r"gates\[0\]: unknown gate kind 'metrc'; did you mean 'metric'\?",
        ),
        ("- accuracy: 0.8", r"valid: metric, no_regression, fairness, latency, size, checks"),
        ("- metric: roc_auc => 0.8", r"unknown operator '=>' .*valid: >=, <=, >, <, =="),
        ("- metric: roc_auc != 0.8", r"unknown operator '!='"),
        ("- metric: roc_auc >= high", r"threshold in 'roc_auc >= high' must be a finite number"),
        ("- metric: roc_auc >= nan", r"must be a finite number, not 'nan'"),
        ("- metric: roc_auc >=", r"must be a finite number, not ''"),
        ("- metric: roc_auc 0.8", r"like 'roc_auc >= 0.8'"),
        ("- metric: {name: roc_auc}", r"a metric gate is a condition"),
        ("- metric: 0.8", r"a metric gate is a condition"),
        ("- latency: {p95_ms: 5}", r"unknown key in latency 'p95_ms'; did you mean 'p99_ms'\?"),
        ("- latency: {p99_ms: 5, fmt: onnx}", r"valid: format, p50_ms, p99_ms, batch_p50_ms"),
        ("- latency: {format: onnx}", r"latency needs one of p50_ms, p99_ms"),
        (
            "- latency: {p99_ms: 5, format: onx}",
            r"unknown latency.format 'onx'; did you mean 'onnx'",
        ),
        ("- size: {mb: '>= 50'}", r"size.mb takes an upper bound \('<= x' or '< x'\), not '>='"),
        ("- size: {mb: -1}", r"size.mb must be >= 0, not -1"),
        ("- size: {mb: true}", r"size.mb must be a finite number, not True"),
        ("- size: {mb: 50 MB}", r"size.mb must be a finite number, not '50 MB'"),
        ("- size: 50", r"size takes a mapping of format, mb"),
        ("- fairness: {demographic_parity_difference: 0.1}", r"fairness needs column"),
        ("- fairness: {column: region}", r"fairness needs one of demographic_parity_difference"),
        ("- fairness: {column: '', equalized_odds_difference: 0.1}", r"non-empty name"),
        ("- no_regression: {vs: champion}", r"no_regression needs a metric"),
        ("- no_regression: {metric: f1, tolerance: -0.1}", r"tolerance must be >= 0, not -0.1"),
        ("- no_regression: {metric: f1, tolerance: small}", r"tolerance must be a finite number"),
        ("- no_regression: {metric: f1, vs: 3}", r"no_regression.vs must be a non-empty name"),
        ("- no_regression: {metric: f1, tol: 0.1}", r"did you mean 'tolerance'\?"),
        ("- no_regression:", r"no_regression takes a mapping"),
        ("- checks: {leakage: true}", r"checks.leakage must be false"),
        ("- checks: {}", r"checks needs one of leakage, duplicates_fraction"),
        ("- no_regression:\n  metric: f1", r"one key, the gate kind.*got no_regression, metric"),
        ("- {}", r"got an empty mapping"),
        ("- roc_auc >= 0.8", r"gates\[0\]: each gate is a mapping with one key"),
        ("- metric: f1 > 0.5\n- metric: f1 > 0.5\n- size: {gb: 1}", r"gates\[2\]: unknown key"),
    ],
)
def test_malformed_gates_name_the_position_value_and_choices(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_gates(text)
    assert caught.value.details["gate"].startswith("gates[")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rules: []", r"no 'gates' key \(keys: 'rules'\)"),
        ({"gate": []}, r"no 'gates' key"),
        ("gates:", r"empty \(null\); write `gates: \[\]`"),
        ("", r"empty \(null\)"),
        ("gates: roc_auc >= 0.8", r"gates must be a list .* not str"),
        ({"gates": {"metric": "f1 > 0"}}, r"not dict"),
        ("gates:\n  - metric: f1 > 0.5\n  - size: {mb: <= 5\n", r"does not parse at line 4"),
        ("gates:\n  - metric: f1 > 0.5\n  - metric: f1 > 0.6\n    metric: f1 > 0.7\n", "line 4"),
        ("gates:\n  - !!python/object/apply:os.system [echo hacked]\n", r"does not parse"),
        ("gates: !!python/name:os.system\n", r"does not parse"),
    ],
)
def test_malformed_documents_are_refused(source: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_gates(source)


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        parse_gates(tmp_path / "nope.yaml")


def test_ten_thousand_gates_parse() -> None:
    text = "gates:\n" + "".join(f"  - metric: roc_auc >= 0.{i % 90 + 10}\n" for i in range(10_000))
    gates = parse_gates(text)
    assert len(gates) == 10_000
    assert gates[-1].position == 9_999
    assert gates[-1].threshold == pytest.approx(0.19)


@pytest.mark.parametrize(
    "data",
    [
        {"gate": "x", "kind": "metric", "reason": "r"},
        {"gate": "x", "kind": "metric", "passed": "yes", "reason": "r"},
        {"gate": "x", "kind": "metric", "passed": True, "reason": "r", "measured": "high"},
        ["not", "a", "mapping"],
    ],
)
def test_malformed_stored_results_are_refused(data: Any) -> None:
    with pytest.raises(ValidationError, match="stored gate result"):
        GateResult.from_dict(data)
