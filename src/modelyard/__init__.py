"""modelyard: the whole ML lifecycle in one package.

Typical use::

    import modelyard as my

    with my.start_run(experiment="churn", run_name="rf-baseline") as run:
        run.log_params({"model": "rf", "n_estimators": 200})
        for fold, auc in enumerate(fold_aucs):
            run.log_metric("auc", auc, step=fold)
        run.log_figure(fig, "plots/roc.png")

    my.search_runs("churn", filter="metrics.auc > 0.9", order_by=["metrics.auc DESC"])

    churn = my.data.ingest("churn.csv", name="churn", mask={"email": "hmac"})
    my.data.query("SELECT region, avg(tenure_months) FROM churn@1 GROUP BY 1")
    result = my.train(data="churn@1", target="churned", spec={"tuning": {"trials": 30}})
    result.leaderboard_frame()

    my.register(result, name="churn")
    my.models.promote("churn@1", gates="gates.yaml")
    my.models.load("churn@champion").predict_proba(frame)

Settings come from arguments, ``MODELYARD_*`` variables, ``modelyard.yaml``, then
defaults (see :mod:`modelyard.config`); :func:`connect` picks a store explicitly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from modelyard._utils.lazy import lazy_exports
from modelyard.exceptions import ModelyardError

if TYPE_CHECKING:
    from modelyard import data
    from modelyard import registry as models
    from modelyard.registry import register
    from modelyard.tracking import (
        ActiveRun,
        Metric,
        Run,
        TrackingClient,
        get_client,
        get_metric_history,
        get_run,
        list_experiments,
        search_runs,
        start_run,
    )
    from modelyard.training import train

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "Metric",
    "ModelyardError",
    "Run",
    "TrackingClient",
    "__version__",
    "connect",
    "data",
    "get_client",
    "get_metric_history",
    "get_run",
    "list_experiments",
    "models",
    "register",
    "search_runs",
    "start_run",
    "train",
]


def connect(
    *,
    home: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
    artifacts_url: str | None = None,
    master_key: bytes | str | None = None,
) -> TrackingClient:
    """Point the module-level functions (tracking, ``my.data``, ``my.models``) at one installation.

    Arguments override ``MODELYARD_*`` variables, which override ``modelyard.yaml``.

    Returns:
        The default tracking client (``my.data.get_client()`` has the data client).
    """
    from modelyard import data, registry, tracking

    data.connect(home=home, db_url=db_url, artifacts_url=artifacts_url, master_key=master_key)
    registry.connect(home=home, db_url=db_url, artifacts_url=artifacts_url, master_key=master_key)
    return tracking.connect(
        home=home, db_url=db_url, artifacts_url=artifacts_url, master_key=master_key
    )


# Each name's module, imported on first use (see modelyard._utils.lazy): ``import
# modelyard`` stays fast for the CLI and server workers. A trailing ":" means the
# module itself.
_EXPORTS = {
    "ActiveRun": "modelyard.tracking",
    "Metric": "modelyard.tracking",
    "Run": "modelyard.tracking",
    "TrackingClient": "modelyard.tracking",
    "data": "modelyard.data:",
    "get_client": "modelyard.tracking",
    "get_metric_history": "modelyard.tracking",
    "get_run": "modelyard.tracking",
    "list_experiments": "modelyard.tracking",
    "models": "modelyard.registry:",
    "register": "modelyard.registry",
    "search_runs": "modelyard.tracking",
    "start_run": "modelyard.tracking",
    "train": "modelyard.training",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
