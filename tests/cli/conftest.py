"""The CLI run in-process on a fresh home folder, and runs logged with the Python API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelyard.cli.app import main
from modelyard.config import load_settings
from modelyard.tracking import TrackingClient

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Result:
    """What one ``modelyard ...`` invocation did."""

    code: int
    out: str
    err: str


def words(text: str) -> str:
    """The output with rich's line wrapping (and alignment padding) undone."""
    return " ".join(text.split())


def use_home(monkeypatch: pytest.MonkeyPatch, path: Path) -> Path:
    """Make ``path`` ``MODELYARD_HOME`` and the working folder, with no other settings."""
    for var in (
        "MODELYARD_DB_URL",
        "MODELYARD_ARTIFACTS_URL",
        "MODELYARD_CONFIG",
        "MODELYARD_MASTER_KEY",
        "MODELYARD_MASTER_KEY_FILE",
        "MODELYARD_MASK_KEY",
        "MODELYARD_MASK_KEY_FILE",
        "MODELYARD_REDIS_URL",
        "FORCE_COLOR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MODELYARD_HOME", str(path))
    monkeypatch.setenv("MODELYARD_USER", "tester")
    monkeypatch.chdir(path)
    return path


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``MODELYARD_HOME`` (and the working folder) is a fresh temporary folder."""
    return use_home(monkeypatch, tmp_path)


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``modelyard *args`` in-process; returns the exit code and the captured output."""

    def run(*args: str) -> Result:
        capsys.readouterr()  # drop anything printed before this call
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, strip_ansi(captured.out), strip_ansi(captured.err))

    return run


@pytest.fixture
def tracking(home: Path) -> Iterator[TrackingClient]:
    """A tracking client on the same home the CLI reads."""
    client = TrackingClient.from_settings(load_settings(home=home))
    yield client
    client.close()


@dataclass(frozen=True)
class Populated:
    """Three finished runs in ``churn`` (auc: gamma > alpha > beta) and one in ``other``."""

    alpha: str
    beta: str
    gamma: str
    elsewhere: str


@pytest.fixture
def populated(tracking: TrackingClient) -> Populated:
    ids = {}
    specs = [
        ("alpha-run", "rf", 0.91, "risk"),
        ("beta-run", "lr", 0.72, "growth"),
        ("gamma-run", "gbm", 0.95, "risk"),
    ]
    for name, model, auc, team in specs:
        with tracking.start_run("churn", run_name=name) as run:
            run.log_params({"model": model, "lr": 0.1})
            run.log_metric("auc", auc)
            run.log_metrics({"loss": 1 - auc, "f1": auc - 0.1, "precision": 0.5, "recall": 0.25})
            run.set_tags({"team": team})
            run.log_text("hi", "notes.txt")
            ids[name] = run.run_id
    with tracking.start_run("other", run_name="elsewhere-run") as run:
        run.log_metric("auc", 0.5)
        ids["elsewhere-run"] = run.run_id
    return Populated(ids["alpha-run"], ids["beta-run"], ids["gamma-run"], ids["elsewhere-run"])
