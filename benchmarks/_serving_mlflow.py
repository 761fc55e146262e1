"""MLflow's model folder for ``benchmarks/serving.py``: run with the peers interpreter.

``.venv-peers/bin/python -m benchmarks._serving_mlflow MODEL.pkl EXAMPLE.parquet OUT
SKLEARN_VERSION`` unpickles the pipeline fitted by the driver (it stops unless this
environment has scikit-learn ``SKLEARN_VERSION``, the driver's), then
``mlflow.sklearn.save_model`` writes it to ``OUT`` with an input example and the
signature MLflow infers from it, as ``log_model(..., input_example=...)`` would:
``mlflow models serve`` then checks requests against that schema, as ours checks
them against its signature. The file is MLflow's default format, skops (as ours),
with the one type it asks to trust for boosted trees. Prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def main() -> None:
    """Save the pickled pipeline as an MLflow model folder."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow.sklearn
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature

    pickled, example_path, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    if sklearn.__version__ != sys.argv[4]:
        sys.exit(
            f"the peers environment has scikit-learn {sklearn.__version__}, the model was "
            f"fitted with {sys.argv[4]}: pin scikit-learn=={sys.argv[4]} in "
            "benchmarks/peers.txt and run `make peers`"
        )
    model = pickle.loads(pickled.read_bytes())
    example = pd.read_parquet(example_path)
    signature = infer_signature(example, model.predict(example))
    # MLflow's default format is skops, as ours is; it asks to trust the tree storage.
    mlflow.sklearn.save_model(
        model,
        str(out),
        signature=signature,
        input_example=example,
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
    versions = {"mlflow": mlflow.__version__, "sklearn": sklearn.__version__}
    with contextlib.suppress(PackageNotFoundError):
        versions["mlserver"] = version("mlserver")
    print(json.dumps(versions))


if __name__ == "__main__":
    main()
