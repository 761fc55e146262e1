"""The columns of ``benchmarks/serving.py``: how each server is started and asked.

Every side listens on 127.0.0.1 with the same number of worker processes (except
MLServer, which has one HTTP process: its parallel inference pool is off here),
with access logs off:

- ``ours``: ``modelyard --home HOME serve bench@1 --port P --workers W`` (uvicorn,
  uvloop + httptools, adaptive batching on, the prediction log on: the defaults);
  ``ours_nobatch`` adds ``--no-batching``, ``ours_nolog`` (not run unless named)
  ``--no-log``. ``POST /v1/models/bench:predict``.
- ``mlflow``: ``mlflow models serve -m DIR --env-manager local -w W`` from
  ``.venv-peers`` (its uvicorn; ``UVICORN_ACCESS_LOG=false``). ``POST /invocations``.
- ``mlserver``: ``mlserver start DIR`` from ``.venv-peers`` with its scikit-learn
  runtime, ``parallel_workers: 0``, ``debug: false``. ``POST /v2/models/bench/infer``.
- ``floor``: :mod:`benchmarks._serving_floor` on uvicorn with ours' flags;
  ``starlette`` (not run unless named): the same answer from one Starlette route.
- ``ours_granian`` and ``floor_granian`` (``--granian``): the same two apps on granian
  (``--loop uvloop``, W workers), for the choice of ASGI server.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks._serving_model import MODEL_NAME
from benchmarks._serving_procs import ServerCommand, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setup:
    """What the sides share: folders, interpreters, the registered model, the workers."""

    workdir: Path
    home: Path
    ref: str
    workers: int
    peers_bin: Path
    mlflow_model: Path | None = None
    mlserver_model: Path | None = None


@dataclass(frozen=True)
class Side:
    """One column: its label, the body it sends, the path it posts to, its command."""

    key: str
    label: str
    protocol: str
    path: str
    command: Callable[[Setup, int], ServerCommand]


def base_env() -> dict[str, str]:
    """This environment without tool settings, the repository importable, quiet tools."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "MODELYARD_", "UVICORN_", "GRANIAN_", "MLSERVER_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


_QUIET = ("--no-access-log", "--log-level", "warning")


def _uvicorn_flags(port: int, workers: int) -> list[str]:
    # the settings `modelyard serve` hands uvicorn.run (server.py)
    listen = ("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers))
    return [*listen, "--loop", "uvloop", "--http", "httptools", *_QUIET]


def _granian_flags(port: int, workers: int) -> list[str]:
    listen = ("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers))
    return ["--interface", "asgi", *listen, "--loop", "uvloop", "--no-ws", *_QUIET]


def _ours(*flags: str) -> Callable[[Setup, int], ServerCommand]:
    def command(setup: Setup, port: int) -> ServerCommand:
        modelyard = Path(sys.executable).parent / "modelyard"
        argv = [str(modelyard), "--home", str(setup.home), "serve", setup.ref]
        argv += ["--port", str(port), "--workers", str(setup.workers), *flags]
        return ServerCommand(argv, "/v2/health/ready", base_env(), setup.workdir)

    return command


def _floor(setup: Setup, port: int) -> ServerCommand:
    argv = [sys.executable, "-m", "uvicorn", "benchmarks._serving_floor:app"]
    return ServerCommand(argv + _uvicorn_flags(port, setup.workers), "/", base_env(), REPO_ROOT)


def _starlette(setup: Setup, port: int) -> ServerCommand:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "benchmarks._serving_floor:make_starlette_app",
    ]
    return ServerCommand(argv + _uvicorn_flags(port, setup.workers), "/", base_env(), REPO_ROOT)


def _granian_env(extra: dict[str, str]) -> dict[str, str]:
    return {**base_env(), **extra}


def _floor_granian(setup: Setup, port: int) -> ServerCommand:
    argv = [str(Path(sys.executable).parent / "granian"), *_granian_flags(port, setup.workers)]
    argv.append("benchmarks._serving_floor:app")
    return ServerCommand(argv, "/", base_env(), REPO_ROOT)


def _ours_granian(setup: Setup, port: int) -> ServerCommand:
    from benchmarks._serving_granian import OPTIONS_VARIABLE
    from modelyard.serving import ServeOptions

    options = ServeOptions(models=(setup.ref,), port=port, workers=setup.workers)
    metrics = tempfile.mkdtemp(prefix="metrics-", dir=setup.workdir)  # as `serve` makes one
    env = _granian_env(
        {
            OPTIONS_VARIABLE: options.to_json(),
            "MODELYARD_HOME": str(setup.home),
            "PROMETHEUS_MULTIPROC_DIR": metrics,
        }
    )
    argv = [str(Path(sys.executable).parent / "granian"), *_granian_flags(port, setup.workers)]
    argv += ["--factory", "benchmarks._serving_granian:create_app"]
    return ServerCommand(argv, "/v2/health/ready", env, REPO_ROOT)


def _mlflow(setup: Setup, port: int) -> ServerCommand:
    if setup.mlflow_model is None:
        raise RuntimeError("the MLflow model folder was not made")
    argv = [str(setup.peers_bin / "mlflow"), "models", "serve", "-m", str(setup.mlflow_model)]
    argv += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    argv += ["-w", str(setup.workers)]
    env = {**base_env(), "UVICORN_ACCESS_LOG": "false", "MLFLOW_LOGGING_LEVEL": "WARNING"}
    env["PATH"] = os.pathsep.join([str(setup.peers_bin), env.get("PATH", "")])
    return ServerCommand(argv, "/ping", env, setup.workdir)


def _mlserver(setup: Setup, port: int) -> ServerCommand:
    if setup.mlserver_model is None:
        raise RuntimeError("the MLServer model folder was not made")
    folder = setup.mlserver_model
    settings = {
        "debug": False,  # its default (true) logs every request
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "load_models_at_startup": True,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    argv = [str(setup.peers_bin / "mlserver"), "start", str(folder)]
    env = {**base_env(), "PATH": os.pathsep.join([str(setup.peers_bin), os.environ["PATH"]])}
    return ServerCommand(argv, "/v2/health/ready", env, folder)


def write_mlserver_model(joblib_file: Path, folder: Path) -> Path:
    """MLServer's folder: ``model-settings.json`` naming the joblib file, in ``bench/``."""
    folder = folder / MODEL_NAME  # MLServer warns when the folder is not named as the model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.joblib").write_bytes(joblib_file.read_bytes())
    settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (folder / "model-settings.json").write_text(json.dumps(settings))
    return folder


PREDICT = f"/v1/models/{MODEL_NAME}:predict"
SIDES = {
    side.key: side
    for side in (
        Side("ours", "ours (batching on)", "ours", PREDICT, _ours()),
        Side("ours_nobatch", "ours (batching off)", "ours", PREDICT, _ours("--no-batching")),
        Side("ours_nolog", "ours (no prediction log)", "ours", PREDICT, _ours("--no-log")),
        Side("mlflow", "MLflow models serve", "mlflow", "/invocations", _mlflow),
        Side(
            "mlserver",
            "MLServer (sklearn)",
            "mlserver",
            f"/v2/models/{MODEL_NAME}/infer",
            _mlserver,
        ),
        Side("floor", "floor (bare ASGI)", "floor", "/", _floor),
        Side("starlette", "one Starlette route", "floor", PREDICT, _starlette),
        Side("ours_granian", "ours on granian", "ours", PREDICT, _ours_granian),
        Side("floor_granian", "floor on granian", "floor", "/", _floor_granian),
    )
}
