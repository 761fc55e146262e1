"""MLflow's model folder for ``benchmarks/serving.py``: run with the peers interpreter.

``.venv-peers/bin/python -m benchmarks._serving_mlflow MODEL.pkl EXAMPLE.parquet OUT``
unpickles the pipeline fitted by the driver (the same scikit-learn version on both
sides, checked), then ``mlflow.sklearn.save_model`` writes it to ``OUT`` with an
input example and the signature MLflow infers from it, as ``log_model(...,
input_example=...)`` would: ``mlflow models serve`` then checks requests against
that schema, as ours checks them against its signature. Prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sys
import warnings
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
    with warnings.catch_warnings():
        warnings.simplefilter("error", sklearn.exceptions.InconsistentVersionWarning)
        model = pickle.loads(pickled.read_bytes())
    example = pd.read_parquet(example_path)
    signature = infer_signature(example, model.predict(example))
    mlflow.sklearn.save_model(model, str(out), signature=signature, input_example=example)
    print(
        json.dumps(
            {"mlflow": mlflow.__version__, "sklearn": sklearn.__version__, "path": str(out)}
        )
    )


if __name__ == "__main__":
    main()
