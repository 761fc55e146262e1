"""End to end: the installed ``modelyard`` console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from modelyard import __version__
from modelyard.config import load_settings
from modelyard.tracking import TrackingClient

SCRIPT = Path(sys.executable).with_name("modelyard")


def modelyard(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {"MODELYARD_HOME": str(home), "MODELYARD_USER": "e2e"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), f"{SCRIPT} missing: pip install -e . into this interpreter"


def test_version(tmp_path: Path) -> None:
    done = modelyard(tmp_path, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"modelyard {__version__}\n", "")


def test_runs_logged_with_the_api_are_listed(tmp_path: Path) -> None:
    client = TrackingClient.from_settings(load_settings(home=tmp_path))
    with client.start_run("exp", run_name="a") as run:
        run.log_params({"lr": 0.1})
        run.log_metric("auc", 0.9)
        run.log_text("hi", "notes.txt")
    client.close()

    done = modelyard(tmp_path, "runs", "list", "--json")
    assert done.returncode == 0, done.stderr
    (listed,) = json.loads(done.stdout)["runs"]
    assert listed["info"]["run_id"] == run.run_id
    assert listed["data"] == {"params": {"lr": "0.1"}, "metrics": {"auc": 0.9}, "tags": {}}

    shown = modelyard(tmp_path, "runs", "show", run.run_id, "--json")
    assert json.loads(shown.stdout)["artifacts"][0]["path"] == "notes.txt"


def test_a_modelyard_error_is_one_line_on_stderr(tmp_path: Path) -> None:
    done = modelyard(tmp_path, "runs", "show", "0" * 32)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_a_usage_error_exits_2(tmp_path: Path) -> None:
    done = modelyard(tmp_path, "runs", "list", "--bogus")
    assert done.returncode == 2
    assert "No such option: --bogus" in done.stderr
    assert "Traceback" not in done.stderr


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    assert modelyard(tmp_path, "db", "upgrade").returncode == 0
    done = modelyard(tmp_path, "db", "current")
    assert done.returncode == 0
    assert "(up to date)" in done.stdout
    assert (tmp_path / "modelyard.db").is_file()
