"""Setting up ``benchmarks/serving.py``: the model on every side, the bodies, the checks.

:func:`prepare` fits the pipeline once (:mod:`benchmarks._serving_model`), registers
it in a fresh modelyard home, has the peers interpreter save it as an MLflow model
(:mod:`benchmarks._serving_mlflow`) and writes MLServer's model folder.
:func:`write_bodies` writes one body file (and its wrk script) per protocol and row
count, with the labels the pipeline itself gives those rows; :func:`check_answers`
asks a running server once per body and insists on those labels.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._serving_model import FittedModel, fit_model, register_ours, request_bodies
from benchmarks._serving_model import write_peer_files as write_model_files
from benchmarks._serving_sides import REPO_ROOT, Setup, Side, base_env, write_mlserver_model
from benchmarks._serving_wrk import write_script

ROW_COUNTS = (1, 100)


class BenchmarkError(RuntimeError):
    """A required side failed, answered wrongly, or a tool is missing."""


def _peer_run(peers_bin: Path, module: str, *args: str) -> dict[str, Any]:
    command = [str(peers_bin / "python"), "-m", module, *args]
    done = subprocess.run(
        command, env=base_env(), cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchmarkError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def prepare(
    workdir: Path, peers_bin: Path, sides: list[str], workers: int
) -> tuple[Setup, FittedModel, dict[str, Any]]:
    """Fit the model, register it in a fresh home, write MLflow's and MLServer's folders."""
    import sklearn

    fitted = fit_model()
    registered = register_ours(fitted, workdir / "home")
    files = write_model_files(fitted, workdir / "peer-files")
    info: dict[str, Any] = {"ref": registered["ref"], "formats": registered["formats"]}
    info["sklearn"] = sklearn.__version__
    mlflow_model = mlserver_model = None
    if "mlflow" in sides:
        mlflow_model = workdir / "mlflow-model"
        saved = _peer_run(
            peers_bin,
            "benchmarks._serving_mlflow",
            str(files["pickle"]),
            str(files["example"]),
            str(mlflow_model),
            sklearn.__version__,
        )
        info["versions"] = saved
    if "mlserver" in sides:
        mlserver_model = write_mlserver_model(files["joblib"], workdir / "mlserver")
    setup = Setup(
        workdir=workdir,
        home=workdir / "home",
        ref=registered["ref"],
        workers=workers,
        peers_bin=peers_bin,
        mlflow_model=mlflow_model,
        mlserver_model=mlserver_model,
    )
    return setup, fitted, info


def write_bodies(
    fitted: FittedModel, workdir: Path
) -> tuple[dict[int, dict[str, Path]], dict[int, list[str]]]:
    """Body files per row count and protocol, and the labels each must get back."""
    bodies: dict[int, dict[str, Path]] = {}
    expected: dict[int, list[str]] = {}
    folder = workdir / "bodies"
    folder.mkdir()
    for rows in ROW_COUNTS:
        sample = fitted.sample.head(rows)
        bodies[rows] = {}
        for protocol, data in request_bodies(sample).items():
            path = folder / f"{protocol}-{rows}.json"
            path.write_bytes(data)
            write_script(path)
            bodies[rows][protocol] = path
        expected[rows] = [str(v) for v in fitted.pipeline.predict(sample)]
    return bodies, expected


def _labels(protocol: str, answer: dict[str, Any]) -> list[str]:
    if protocol == "mlserver":
        return [str(v) for v in answer["outputs"][0]["data"]]
    return [str(v) for v in answer["predictions"]]


def check_answers(
    side: Side, url: str, bodies: dict[int, dict[str, Path]], expected: dict[int, list[str]]
) -> None:
    """POST each body once; the labels must be the pipeline's own.

    Raises:
        BenchmarkError: A non-200 answer or different labels.
    """
    for rows, paths in bodies.items():
        request = urllib.request.Request(
            url,
            data=paths[side.protocol].read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
        except OSError as exc:
            raise BenchmarkError(f"{side.label}: {rows}-row request failed: {exc}") from exc
        if side.protocol != "floor" and _labels(side.protocol, answer) != expected[rows]:
            raise BenchmarkError(
                f"{side.label}: {rows}-row answer {str(answer)[:300]} does not hold the "
                f"pipeline's labels {expected[rows][:10]}"
            )
