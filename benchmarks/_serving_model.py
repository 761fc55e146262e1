"""The model every side of ``benchmarks/serving.py`` serves, and the request bodies.

One seeded synthetic binary task: 16 numeric columns (different scales and offsets)
and 4 categorical ones (3 to 6 levels), the label drawn from a logistic model with an
interaction and a categorical effect. One plain scikit-learn Pipeline fitted once:
``ColumnTransformer`` (``StandardScaler`` on the numeric columns,
``OneHotEncoder(handle_unknown="ignore")`` on the categorical ones), then a
``GradientBoostingClassifier`` of 100 trees of depth 3.

The same fitted object goes to every side: registered in a fresh modelyard home by
hand (a run with ``model/model.skops``, ``model/signature.json`` and
``model/holdout_sample.parquet``, then ``ModelRegistry.register``), pickled for
``mlflow.sklearn.save_model`` (in the peers environment) and dumped with joblib for
MLServer's scikit-learn runtime.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 0
TRAIN_ROWS = 10_000
SAMPLE_ROWS = 500
MODEL_NAME = "bench"
TARGET = "label"
NUMERIC = tuple(f"num_{i:02d}" for i in range(16))
CATEGORICAL = {
    "region": ("north", "south", "east", "west", "central"),
    "plan": ("free", "basic", "pro", "enterprise"),
    "channel": ("web", "store", "partner"),
    "device": ("ios", "android", "windows", "mac", "linux", "other"),
}
COLUMNS = (*NUMERIC, *CATEGORICAL)


def make_frame(rows: int, seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows`` seeded rows of the 20 feature columns and their 0/1 labels."""
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.5, 50.0, size=len(NUMERIC))
    offsets = rng.uniform(-100.0, 100.0, size=len(NUMERIC))
    raw = rng.normal(size=(rows, len(NUMERIC)))
    frame = pd.DataFrame(raw * scales + offsets, columns=list(NUMERIC))
    logit = raw[:, :8] @ rng.normal(size=8) + 0.8 * raw[:, 0] * raw[:, 1]
    for name, levels in CATEGORICAL.items():
        codes = rng.integers(0, len(levels), size=rows)
        frame[name] = np.asarray(levels, dtype=object)[codes]
        logit += rng.normal(scale=0.7, size=len(levels))[codes]
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return frame, labels


def make_pipeline() -> Any:
    """The unfitted Pipeline: scale + one-hot, then 100 boosted trees of depth 3."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), list(NUMERIC)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ]
    )
    booster = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=SEED)
    return Pipeline([("prep", prep), ("model", booster)])


@dataclass(frozen=True)
class FittedModel:
    """The fitted pipeline, the rows it was trained on and a held-out sample."""

    pipeline: Any
    train: pd.DataFrame
    sample: pd.DataFrame
    sample_labels: np.ndarray


def fit_model() -> FittedModel:
    """Fit the pipeline on :data:`TRAIN_ROWS` rows; keep :data:`SAMPLE_ROWS` more apart."""
    frame, labels = make_frame(TRAIN_ROWS + SAMPLE_ROWS)
    train, sample = frame.iloc[:TRAIN_ROWS], frame.iloc[TRAIN_ROWS:].reset_index(drop=True)
    pipeline = make_pipeline().fit(train, labels[:TRAIN_ROWS])
    return FittedModel(pipeline, train, sample, labels[TRAIN_ROWS:])


def register_ours(fitted: FittedModel, home: Path) -> dict[str, Any]:
    """Log the pipeline to a run in a fresh home by hand and register it as ``bench``.

    Returns:
        ``{"ref": "bench@1", "formats": {format: entry}}`` as the registry stored them.
    """
    import skops.io

    from modelyard.config import load_settings
    from modelyard.registry import ModelRegistry
    from modelyard.tracking import TrackingClient
    from modelyard.training import SAMPLE_TARGET
    from modelyard.training.signature import signature_of

    settings = load_settings(home=home, env={}, cwd=home)
    signature = signature_of(fitted.train, target=TARGET, task="binary", labels=[0, 1], excluded=[])
    holdout = fitted.sample.assign(**{SAMPLE_TARGET: fitted.sample_labels})
    buffer = io.BytesIO()
    holdout.to_parquet(buffer, index=False)
    tracking = TrackingClient.from_settings(settings)
    try:
        with tracking.start_run("serving-benchmark", run_name="bench-model") as run:
            run.log_bytes(skops.io.dumps(fitted.pipeline), "model/model.skops")
            run.log_dict(signature, "model/signature.json")
            run.log_bytes(buffer.getvalue(), "model/holdout_sample.parquet")
    finally:
        tracking.close()
    with ModelRegistry.from_settings(settings) as registry:
        version = registry.register(run.run_id, MODEL_NAME)
    return {"ref": f"{MODEL_NAME}@{version.version}", "formats": version.formats}


def write_peer_files(fitted: FittedModel, folder: Path) -> dict[str, Path]:
    """The pickle (for MLflow), the joblib file (for MLServer) and the input example."""
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "pickle": folder / "model.pkl",
        "joblib": folder / "model.joblib",
        "example": folder / "example.parquet",
    }
    paths["pickle"].write_bytes(pickle.dumps(fitted.pipeline))
    joblib.dump(fitted.pipeline, paths["joblib"])
    fitted.sample.head(5).to_parquet(paths["example"], index=False)
    return paths


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}
        for record in rows.to_dict(orient="records")
    ]


def request_bodies(rows: pd.DataFrame) -> dict[str, bytes]:
    """One request body per protocol, all carrying ``rows``.

    ``ours`` and ``floor``: ``{"records": [...]}``; ``mlflow``: ``{"dataframe_records":
    [...]}`` (the same rows, the same JSON shape); ``mlserver``: an Open Inference
    Protocol request with one tensor per column and the pandas content type.
    """
    records = _records(rows)
    inputs = []
    for name in COLUMNS:
        numeric = name in NUMERIC
        inputs.append(
            {
                "name": name,
                "shape": [len(rows)],
                "datatype": "FP64" if numeric else "BYTES",
                "data": [float(v) if numeric else str(v) for v in rows[name]],
            }
        )
    ours = json.dumps({"records": records}).encode()
    return {
        "ours": ours,
        "floor": ours,
        "mlflow": json.dumps({"dataframe_records": records}).encode(),
        "mlserver": json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode(),
    }
