"""The metadata store: schema, migrations and queries over SQLite or PostgreSQL.

Owns the SQLAlchemy Core tables (``schema``), the Alembic migrations
(``migrations/``, applied by ``migrate``), engine set-up per backend (``engine``)
and the tracking queries (``TrackingStore``), including the run search language
(``filters``), the dataset metadata (``DatasetStore``) and the model registry with
the serving layer's deployment routes and their history (``ModelStore``). Later
layers talk to the database only through this package.
"""

from modelyard.store.dataset_store import (
    DATASET_NAME_RE,
    DatasetStore,
    NewVersion,
    SplitRecord,
    VersionRecord,
    check_dataset_name,
)
from modelyard.store.engine import make_engine
from modelyard.store.entities import (
    ArtifactEntry,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunsPage,
)
from modelyard.store.filters import parse_filter, parse_order_by
from modelyard.store.migrate import current_revision, ensure_schema, head_revision, upgrade
from modelyard.store.model_rows import (
    MODEL_NAME_RE,
    DeploymentChange,
    DeploymentRoutes,
    ModelEvent,
    ModelVersion,
    RegisteredModel,
    check_alias,
    check_model_name,
)
from modelyard.store.model_store import ModelStore, NewModelVersion, Route
from modelyard.store.tracking_store import TrackingStore, now_ms

__all__ = [
    "DATASET_NAME_RE",
    "MODEL_NAME_RE",
    "ArtifactEntry",
    "DatasetStore",
    "DeploymentChange",
    "DeploymentRoutes",
    "Experiment",
    "Metric",
    "ModelEvent",
    "ModelStore",
    "ModelVersion",
    "NewModelVersion",
    "NewVersion",
    "RegisteredModel",
    "Route",
    "Run",
    "RunData",
    "RunInfo",
    "RunsPage",
    "SplitRecord",
    "TrackingStore",
    "VersionRecord",
    "check_alias",
    "check_dataset_name",
    "check_model_name",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "now_ms",
    "parse_filter",
    "parse_order_by",
    "upgrade",
]
