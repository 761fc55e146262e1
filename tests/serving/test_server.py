"""The real server as a process: uvicorn workers, tritonclient, metrics, admin, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.serving.conftest import ServedHome

TOKEN = "test-admin-token-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(
    served_home: ServedHome, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "MODELYARD_ADMIN_TOKEN": TOKEN, "MODELYARD_HOME": str(served_home.home)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "churn@1", "--port", str(port),
         "--workers", "2", "--max-latency-ms", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
        else:
            pytest.fail("the server did not become ready within 90 s")
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        log.close()


@pytest.mark.slow
def test_tritonclient_works_unchanged(
    served_home: ServedHome, server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    import tritonclient.http as triton

    url, _process = server
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("churn")
    metadata = client.get_model_metadata("churn")
    frame = served_home.inputs("churn@1").head(6)
    inputs = []
    for column in metadata["inputs"]:
        values = frame[column["name"]]
        if column["datatype"] == "BYTES":
            array = values.astype(str).to_numpy(dtype=object).reshape(-1, 1)
        elif column["datatype"] == "BOOL":
            array = values.to_numpy(dtype=bool).reshape(-1, 1)
        else:
            array = values.to_numpy(dtype=np.float64).reshape(-1, 1)
        tensor = triton.InferInput(column["name"], list(array.shape), column["datatype"])
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer("churn", inputs)
    expected = served_home.registry.load("churn@1").predict_proba(frame)
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-5)
    assert result.as_numpy("label").shape == (6,)


@pytest.mark.slow
def test_workers_share_metrics_and_admin_changes(
    served_home: ServedHome, server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, _process = server
    records = served_home.records("churn@1", 1)
    for _ in range(20):
        assert (
            httpx.post(url + "/v1/models/churn:predict", json={"records": records}).status_code
            == 200
        )
    # Each worker writes its gathered counts at least once a second; any worker's
    # /metrics then sums both.
    counted = 0.0
    for _ in range(30):
        metrics = httpx.get(url + "/metrics").text
        counted = sum(
            float(row.rsplit(" ", 1)[1]) for row in metrics.splitlines()
            if row.startswith("modelyard_requests_total{") and 'status="200"' in row
            and 'protocol="v1"' in row
        )  # fmt: skip
        if counted >= 20:
            break
        time.sleep(0.2)
    assert counted == 20.0  # summed over both workers
    auth = {"Authorization": f"Bearer {TOKEN}"}
    changed = httpx.put(
        url + "/admin/deployments/churn",
        json={"variants": [{"model": "churn@2", "weight": 100}]},
        headers=auth,
        timeout=60,
    )
    assert changed.status_code == 200, changed.text
    # The other worker polls the store every second, then loads and warms churn@2.
    deadline = time.monotonic() + 30
    versions: set[int] = set()
    while time.monotonic() < deadline:
        versions = {
            httpx.post(url + "/v1/models/churn:predict", json={"records": records}).json()[
                "version"
            ]
            for _ in range(20)
        }
        if versions == {2}:
            break
        time.sleep(0.5)
    assert versions == {2}
    # The store knows: the registry refuses to delete a routed version.
    assert served_home.registry.store.routes_for("churn", 2) == ["churn"]


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests(
    served_home: ServedHome, server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = server
    records = served_home.records("churn@1", 50)
    statuses: list[int] = []
    errors: list[str] = []

    def hammer() -> None:
        with httpx.Client() as client:
            for _ in range(200):
                try:
                    answer = client.post(
                        url + "/v1/models/churn:predict", json={"records": records}
                    )
                    statuses.append(answer.status_code)
                except httpx.HTTPError as exc:  # refused after shutdown began: expected
                    errors.append(type(exc).__name__)
                    return

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGTERM)
    for t in threads:
        t.join(60)
    assert process.wait(60) == 0
    assert statuses
    assert set(statuses) == {200}  # every request the server took was answered
    assert set(errors) <= {"ConnectError", "RemoteProtocolError", "ReadError"}


@pytest.mark.slow
def test_the_deploy_commands_drive_a_running_server(
    server: tuple[str, subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from modelyard.cli.app import main

    url, _process = server
    monkeypatch.delenv("MODELYARD_ADMIN_TOKEN", raising=False)
    assert main(["deploy", "status", "--server", url]) == 1  # no token: a clear error
    assert "MODELYARD_ADMIN_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("MODELYARD_ADMIN_TOKEN", TOKEN)
    assert (
        main(["deploy", "set", "churn", "--canary", "churn@2", "--weight", "25", "--server", url])
        == 0
    )
    assert "churn@1 75%, churn@2 25%" in capsys.readouterr().out
    assert main(["deploy", "promote", "churn", "--server", url]) == 0
    assert "churn: churn@2 100%" in capsys.readouterr().out
    assert main(["deploy", "rollback", "churn", "--server", url]) == 0
    # The history is in the store: whichever worker answers, rollback undoes the promotion.
    assert "churn: churn@1 75%, churn@2 25%" in capsys.readouterr().out
    assert main(["deploy", "rollback", "churn", "--server", url]) == 0  # one step further
    assert "churn: churn@1 100%" in capsys.readouterr().out
    assert main(["deploy", "status", "--server", url, "--json"]) == 0
    assert '"ready": true' in capsys.readouterr().out
    assert main(["deploy", "status", "--server", url]) == 0
    table = capsys.readouterr().out
    assert "recent changes" in table
    for action in ("canary", "promote", "rollback"):
        assert action in table
    monkeypatch.setenv("MODELYARD_ADMIN_TOKEN", "wrong")
    assert main(["deploy", "status", "--server", url]) == 1
    assert "401" in capsys.readouterr().err
