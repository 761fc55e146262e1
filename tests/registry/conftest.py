"""A real installation with a trained, registered churn model (SQLite + local blobs).

Training is the slow part (a few seconds), so one home is built per test module
and tests that change state register their own versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from modelyard.config import Settings, load_settings
from modelyard.data import DataClient
from modelyard.data.synthetic import make_churn
from modelyard.registry import ModelRegistry
from modelyard.tracking import TrackingClient
from modelyard.training import TrainResult, train

TRAIN_SPEC = {
    "families": {"linear": {}, "random_forest": {"n_estimators": 20, "max_depth": 6}},
    "cv": {"folds": 2},
    "tuning": {"trials": 2},
    "ensembles": {"average": False, "stacking": False},
    "seed": 7,
}


@dataclass
class Home:
    """Everything a registry test needs."""

    settings: Settings
    registry: ModelRegistry
    tracking: TrackingClient
    data: DataClient
    frame: pd.DataFrame
    result: TrainResult

    def train(self, spec: dict[str, object] | None = None, data: str = "churn@1") -> TrainResult:
        return train(
            data,
            "churned",
            spec or TRAIN_SPEC,
            experiment="churn",
            tracking=self.tracking,
            data_client=self.data,
            settings=self.settings,
        )


def make_home(root: Path, *, rows: int = 600, **settings: object) -> Home:
    conf = load_settings(home=root, **settings)  # type: ignore[arg-type]
    tracking = TrackingClient.from_settings(conf)
    data = DataClient.from_settings(conf)
    frame = make_churn(rows, seed=3).drop(columns=["name", "email", "phone", "customer_id"])
    data.ingest(frame, "churn")
    result = train(
        "churn@1",
        "churned",
        TRAIN_SPEC,
        experiment="churn",
        tracking=tracking,
        data_client=data,
        settings=conf,
    )
    registry = ModelRegistry.from_settings(conf)
    return Home(conf, registry, tracking, data, frame, result)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    built = make_home(tmp_path_factory.mktemp("registry"))
    yield built
    built.registry.close()
    built.tracking.close()
    built.data.close()
