"""Realistic model-card inputs for the card tests: versions, evaluations, gates, datasets,
and the two full cards (binary, regression) with the chart captions they must show.

Curves come from scikit-learn on seeded synthetic scores, so they have the shapes
a real evaluation stores (thresholded ROC/PR steps, binned calibration, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from modelyard.registry.card import ModelCard, render_card
from modelyard.registry.entities import ModelVersion

FEATURES = ("tenure", "monthly_charges", "contract", "support_calls", "region")
BINARY_CAPTIONS = (
    "Metrics on the holdout with 95% bootstrap confidence intervals",
    "ROC curve",
    "Precision-recall curve",
    "Calibration (Brier score 0.14)",
    "Confusion matrix (colour: share of the actual class)",
    "Rates per group of region",
    "Permutation importance (top 5 of 5 features)",
    "Partial dependence on tenure",
    "Partial dependence on monthly_charges",
    "Partial dependence on contract",
    "SHAP feature attribution (top 5 of 5 features)",
)
REGRESSION_CAPTIONS = (
    "Metrics on the holdout with 95% bootstrap confidence intervals",
    "Residual distribution",
    "Predicted vs actual",
    "Permutation importance (top 2 of 2 features)",
    "Partial dependence on sqft",
)


def binary_evaluation(
    *, rows: int = 800, seed: int = 0, fairness_column: str = "region"
) -> dict[str, Any]:
    """A complete binary-classification evaluation document."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, rows), 0, 1)
    fpr, tpr, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10)
    counts = np.histogram(score, bins=10, range=(0, 1))[0]
    matrix = confusion_matrix(y, score > 0.5)
    groups = ["north", "south", "east"]
    return {
        "task": "binary",
        "rows": rows,
        "labels": ["stay", "churn"],
        "metrics": {
            "roc_auc": {"value": 0.87, "ci_low": 0.84, "ci_high": 0.9},
            "accuracy": {"value": 0.81, "ci_low": 0.78, "ci_high": 0.84},
            "f1": {"value": 0.79, "ci_low": 0.75, "ci_high": 0.83},
            "log_loss": {"value": 0.42, "ci_low": 0.39, "ci_high": 0.46},
            "brier": {"value": 0.14, "ci_low": None, "ci_high": None},
        },
        "bootstrap": {"resamples": 200, "rows": rows},
        "confusion_matrix": {"labels": ["stay", "churn"], "matrix": matrix.tolist()},
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": 0.87},
        "pr": {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "average_precision": 0.83,
        },
        "calibration": {
            "prob_pred": prob_pred.tolist(),
            "prob_true": prob_true.tolist(),
            "count": [int(c) for c in counts if c][: len(prob_pred)],
            "brier": 0.14,
        },
        "residuals": None,
        "slices": {
            "contract": [
                {"value": "monthly", "rows": 500, "metrics": {"roc_auc": 0.85, "accuracy": 0.8}},
                {"value": "yearly", "rows": 300, "metrics": {"roc_auc": 0.9, "accuracy": None}},
            ]
        },
        "fairness": {
            "column": fairness_column,
            "groups": [
                {
                    "group": g,
                    "rows": 250 + 10 * i,
                    "selection_rate": 0.3 + 0.05 * i,
                    "tpr": 0.8 - 0.04 * i,
                    "fpr": 0.1 + 0.03 * i,
                    "accuracy": 0.8,
                }
                for i, g in enumerate(groups)
            ],
            "demographic_parity_difference": 0.12,
            "equalized_odds_difference": 0.08,
        },
        "importance": [
            {"feature": f, "mean": 0.1 / (i + 1), "std": 0.01} for i, f in enumerate(FEATURES)
        ],
        "partial_dependence": [
            {
                "feature": "tenure",
                "kind": "numeric",
                "values": list(range(0, 72, 6)),
                "average": [0.6 - 0.04 * i for i in range(12)],
            },
            {
                "feature": "contract",
                "kind": "categorical",
                "values": ["monthly", "yearly", "two-year"],
                "average": [0.55, 0.3, None],
            },
            {
                "feature": "monthly_charges",
                "kind": "numeric",
                "values": [20.0, 50.0, 80.0, 110.0],
                "average": [0.2, 0.3, 0.45, 0.5],
            },
        ],
        "shap": {"features": list(FEATURES), "mean_abs": [0.2, 0.15, 0.1, 0.05, 0.01], "rows": 200},
        "checks": {
            "leakage": [
                {"feature": "support_calls", "score": 0.97, "metric": "roc_auc", "flagged": True},
                {"feature": "tenure", "score": 0.61, "metric": "roc_auc", "flagged": False},
            ],
            "duplicates": {"shared_rows": 4, "test_rows": rows, "fraction": 4 / rows},
            "shift": [
                {
                    "feature": "tenure",
                    "test": "ks",
                    "statistic": 0.03,
                    "p_value": 0.7,
                    "effect": 0.03,
                    "drifted": False,
                },
                {
                    "feature": "monthly_charges",
                    "test": "ks",
                    "statistic": 0.21,
                    "p_value": 1e-6,
                    "effect": 0.21,
                    "drifted": True,
                },
            ],
        },
        "warnings": ["class balance differs between train and test by 6 points"],
    }


def regression_evaluation(*, rows: int = 600, seed: int = 1) -> dict[str, Any]:
    """A complete regression evaluation document (residuals instead of curves)."""
    rng = np.random.default_rng(seed)
    actual = rng.normal(100, 20, rows)
    predicted = actual + rng.normal(0, 5, rows)
    residual = actual - predicted
    counts, edges = np.histogram(residual, bins=30)
    return {
        "task": "regression",
        "rows": rows,
        "labels": None,
        "metrics": {
            "rmse": {"value": 5.1, "ci_low": 4.8, "ci_high": 5.4},
            "mae": {"value": 4.0, "ci_low": 3.8, "ci_high": 4.3},
            "r2": {"value": 0.93, "ci_low": 0.92, "ci_high": 0.94},
        },
        "bootstrap": {"resamples": 200, "rows": rows},
        "confusion_matrix": None,
        "roc": None,
        "pr": None,
        "calibration": None,
        "residuals": {
            "mean": float(residual.mean()),
            "std": float(residual.std()),
            "mae": float(np.abs(residual).mean()),
            "p5": float(np.percentile(residual, 5)),
            "p50": float(np.percentile(residual, 50)),
            "p95": float(np.percentile(residual, 95)),
            "max_abs": float(np.abs(residual).max()),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            "sample": {"actual": actual[:300].tolist(), "predicted": predicted[:300].tolist()},
        },
        "slices": {},
        "fairness": None,
        "importance": [
            {"feature": "sqft", "mean": 0.5, "std": 0.05},
            {"feature": "age", "mean": 0.1, "std": 0.02},
        ],
        "partial_dependence": [
            {
                "feature": "sqft",
                "kind": "numeric",
                "values": [500, 1000, 1500, 2000],
                "average": [80, 95, 110, 130],
            }
        ],
        "shap": {"unavailable": "shap is not installed (pip install 'modelyard[explain]')"},
        "checks": {
            "leakage": [],
            "duplicates": {"shared_rows": 0, "test_rows": rows, "fraction": 0.0},
            "shift": [],
        },
        "warnings": [],
    }


def gates(
    *, passed: bool = True, forced: bool = False, reason: str | None = None
) -> dict[str, Any]:
    """A gates document with one threshold gate and one no-regression gate."""
    return {
        "passed": passed,
        "checked_at": 1_714_564_800_000,
        "forced": forced,
        "reason": reason,
        "results": [
            {
                "gate": "min_auc",
                "kind": "threshold",
                "passed": True,
                "measured": 0.87,
                "threshold": 0.8,
                "reason": None,
            },
            {
                "gate": "no_regression",
                "kind": "champion",
                "passed": passed,
                "measured": 0.87,
                "threshold": 0.86,
                "reason": None if passed else "worse than champion churn@2",
            },
        ],
    }


def dataset() -> dict[str, Any]:
    """The training dataset version as the card receives it."""
    return {
        "ref": "churn@1",
        "rows": 4000,
        "columns": 6,
        "content_hash": "ab" * 32,
        "profile": [
            {
                "name": "tenure",
                "type": "int64",
                "nulls": 0,
                "distinct": 72,
                "min": 0,
                "max": 71,
                "mean": 32.4,
            },
            {
                "name": "contract",
                "type": "string",
                "nulls": 3,
                "distinct": 3,
                "min": None,
                "max": None,
                "mean": None,
            },
        ],
    }


def version(
    *,
    name: str = "churn",
    task: str = "binary",
    evaluation: dict[str, Any] | None = None,
    gates_doc: dict[str, Any] | None = None,
    formats: dict[str, dict[str, Any]] | None = None,
) -> ModelVersion:
    """A registered version with full lineage, signature and packaging."""
    return ModelVersion(
        name=name,
        version=3,
        run_id="0123456789abcdef",
        status="ready",
        task=task,
        created_at=1_714_564_800_000,
        created_by="ada",
        description="Gradient-boosted churn model.",
        lineage={
            "run_id": "0123456789abcdef",
            "experiment": "churn",
            "data": "churn@1",
            "dataset_hash": "ab" * 32,
            "split": {"name": "holdout", "part": "test"},
            "target": "churned",
            "train_spec": {},
            "params": {"n_estimators": 200, "learning_rate": 0.05},
            "family": "lightgbm",
            "git_commit": "deadbeef",
            "libraries": {"scikit-learn": "1.5.0", "lightgbm": "4.3.0"},
        },
        signature={
            "inputs": [
                {
                    "name": "tenure",
                    "dtype": "int64",
                    "nullable": False,
                    "used": True,
                    "kind": "numeric",
                    "min": 0,
                    "max": 71,
                },
                {
                    "name": "contract",
                    "dtype": "object",
                    "nullable": True,
                    "used": True,
                    "kind": "categorical",
                    "levels": ["monthly", "two-year", "yearly"],
                },
            ],
            "output": {"name": "churned", "task": task, "classes": ["stay", "churn"]},
        },
        metrics={"roc_auc": 0.86},
        size_bytes=123_456,
        formats=formats
        if formats is not None
        else {
            "skops": {
                "blob": "cd" * 32,
                "size": 120_000,
                "latency": {"single_p50_ms": 0.4, "batch_p99_ms": 3.2},
            },
            "onnx": {
                "blob": "ef" * 32,
                "size": 80_000,
                "parity": {"max_abs_diff": 1e-6, "passed": True},
                "latency": {"single_p50_ms": 0.05, "batch_p99_ms": 0.9},
            },
            "onnx-int8": {"unavailable": "quantization needs a float model"},
        },
        evaluation=evaluation,
        gates=gates_doc,
        aliases=("champion",),
    )


def binary_card() -> ModelCard:
    """The card of a fully evaluated binary version with passed gates and its dataset."""
    full = version(evaluation=binary_evaluation(), gates_doc=gates())
    return render_card(
        full,
        dataset=dataset(),
        intended_use="Rank accounts by churn risk.\n\nNot for pricing decisions.",
        limitations=["Trained on EU customers only"],
    )


def regression_card() -> ModelCard:
    """The card of a fully evaluated regression version (no gates, no dataset)."""
    return render_card(version(task="regression", evaluation=regression_evaluation()))
