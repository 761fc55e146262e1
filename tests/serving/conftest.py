"""Real registered models for the serving tests (SQLite + local blobs, built once).

``served_home`` trains two small linear models on synthetic churn data and registers
three versions: a binary classifier with an ONNX package (``churn@1``), the same run
without one (``churn@2``, served natively), and a regressor (``charges@1``). Training
is the slow part (~10 s), so the home is shared by the whole session; tests must not
change its state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pandas as pd
import pytest

from modelyard.config import load_settings
from modelyard.data import DataClient
from modelyard.data.synthetic import make_churn
from modelyard.registry import ModelRegistry
from modelyard.tracking import TrackingClient
from modelyard.training import train

SERVING_SPEC = {
    "families": {"linear": {}},
    "cv": {"folds": 2},
    "tuning": {"trials": 1},
    "ensembles": {"average": False, "stacking": False},
    "seed": 1,
}
PII = ["name", "email", "phone", "customer_id"]


@dataclass
class ServedHome:
    """A registry with ``churn@1`` (onnx), ``churn@2`` (native only) and ``charges@1``."""

    registry: ModelRegistry
    frame: pd.DataFrame  # fresh rows (not the training rows), every column incl. targets
    home: Path | None = None  # the installation's folder (for servers run as processes)

    def records(self, ref: str, rows: int | None = None) -> list[dict[str, object]]:
        """Rows of ``frame`` with exactly ``ref``'s inputs, as a JSON client sends them."""
        frame = self.inputs(ref)
        if rows is not None:
            frame = frame.head(rows)
        records: list[dict[str, object]] = orjson.loads(
            frame.to_json(orient="records", date_format="iso")
        )
        return records

    def inputs(self, ref: str) -> pd.DataFrame:
        """The columns of ``frame`` that ``ref``'s signature names, in its order."""
        names = [c["name"] for c in self.registry.get(ref).signature["inputs"]]
        return self.frame[names]


@pytest.fixture(scope="session")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHome]:
    """The shared registry (see the module docstring)."""
    conf = load_settings(home=tmp_path_factory.mktemp("serving"))
    tracking = TrackingClient.from_settings(conf)
    data = DataClient.from_settings(conf)
    data.ingest(make_churn(400, seed=1).drop(columns=PII), "churn")
    registry = ModelRegistry.from_settings(conf)
    for target, name in (("churned", "churn"), ("monthly_charges", "charges")):
        result = train(
            "churn@1",
            target,
            SERVING_SPEC,
            experiment=name,
            tracking=tracking,
            data_client=data,
            settings=conf,
        )
        registry.register(result, name)
        if name == "churn":
            registry.register(result, name, onnx=False)
    frame = make_churn(60, seed=5).drop(columns=PII)
    yield ServedHome(registry, frame, conf.home)
    registry.close()
    tracking.close()
    data.close()
