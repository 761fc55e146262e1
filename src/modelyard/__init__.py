"""modelyard: the whole ML lifecycle in one package.

Typical use::

    import modelyard as my

    with my.start_run(experiment="churn", run_name="rf-baseline") as run:
        run.log_params({"model": "rf", "n_estimators": 200})
        for fold, auc in enumerate(fold_aucs):
            run.log_metric("auc", auc, step=fold)
        run.log_figure(fig, "plots/roc.png")

    my.search_runs("churn", filter="metrics.auc > 0.9", order_by=["metrics.auc DESC"])

Settings come from arguments, ``MODELYARD_*`` variables, ``modelyard.yaml``, then
defaults (see :mod:`modelyard.config`); :func:`connect` picks a store explicitly.
"""

from modelyard.exceptions import ModelyardError
from modelyard.tracking import (
    ActiveRun,
    Metric,
    Run,
    TrackingClient,
    connect,
    get_client,
    get_metric_history,
    get_run,
    list_experiments,
    search_runs,
    start_run,
)

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "Metric",
    "ModelyardError",
    "Run",
    "TrackingClient",
    "__version__",
    "connect",
    "get_client",
    "get_metric_history",
    "get_run",
    "list_experiments",
    "search_runs",
    "start_run",
]
