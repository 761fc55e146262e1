"""Limitations the card finds on its own, from the evaluation, gates and formats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.registry._card_doc import fmt, percent
from modelyard.registry.entities import ModelVersion

__all__ = ["FAIRNESS_GAP", "SMALL_HOLDOUT", "automatic_limitations"]

SMALL_HOLDOUT = 500
FAIRNESS_GAP = 0.1
MAX_NAMED = 10


def automatic_limitations(version: ModelVersion) -> list[str]:
    """Plain-language limitations drawn from what the version's records show."""
    found: list[str] = []
    evaluation = version.evaluation
    if evaluation is None:
        found.append(
            f"Not evaluated on a holdout yet (run: modelyard models evaluate {version.ref}); "
            "its quality is unmeasured."
        )
    else:
        found += _from_evaluation(evaluation)
    gates = version.gates
    if gates and gates.get("forced"):
        found.append(f"Promoted by force: {gates.get('reason') or 'no reason given'}.")
    elif gates and gates.get("passed") is not True:
        failed = [
            str(r.get("gate"))
            for r in _entries(gates.get("results"))
            if r.get("passed") is not True
        ]
        found.append(f"Failed promotion gates: {_names(failed) or 'see the Gates section'}.")
    for name, entry in version.formats.items():
        if isinstance(entry, Mapping) and entry.get("unavailable"):
            found.append(f"Format {name} unavailable: {entry['unavailable']}.")
    return found


def _from_evaluation(evaluation: Mapping[str, Any]) -> list[str]:
    found = [str(w) for w in evaluation.get("warnings") or [] if w]
    rows = evaluation.get("rows")
    if isinstance(rows, int) and not isinstance(rows, bool) and rows < SMALL_HOLDOUT:
        found.append(
            f"Small holdout ({rows} rows, under {SMALL_HOLDOUT}): confidence intervals are wide; "
            "treat small differences between models as noise."
        )
    raw_checks = evaluation.get("checks")
    checks: Mapping[str, Any] = raw_checks if isinstance(raw_checks, Mapping) else {}
    leaks = [e for e in _entries(checks.get("leakage")) if e.get("flagged") is True]
    if leaks:
        named = _names(
            [f"{e.get('feature')} ({e.get('metric')} {fmt(e.get('score'))})" for e in leaks]
        )
        found.append(
            f"Possible target leakage: {named}. Check these features exist at prediction time."
        )
    drifted = [
        str(e.get("feature")) for e in _entries(checks.get("shift")) if e.get("drifted") is True
    ]
    if drifted:
        found.append(f"Training and test data differ in: {_names(drifted)}.")
    duplicates = checks.get("duplicates")
    if isinstance(duplicates, Mapping) and _number(duplicates.get("fraction")) > 0:
        found.append(
            f"{percent(duplicates.get('fraction'))} of the test rows also appear in training: "
            "holdout scores may be optimistic."
        )
    fairness = evaluation.get("fairness")
    if isinstance(fairness, Mapping):
        found += _fairness_gaps(fairness)
    return found


def _fairness_gaps(fairness: Mapping[str, Any]) -> list[str]:
    found = []
    for key, title in (
        ("demographic_parity_difference", "Demographic parity difference"),
        ("equalized_odds_difference", "Equalized odds difference"),
    ):
        value = _number(fairness.get(key))
        if value > FAIRNESS_GAP:
            found.append(
                f"{title} across {fairness.get('column')} is {fmt(value)} (above {FAIRNESS_GAP})."
            )
    return found


def _entries(value: Any) -> list[Mapping[str, Any]]:
    return [e for e in value or [] if isinstance(e, Mapping)] if isinstance(value, list) else []


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return 0.0
