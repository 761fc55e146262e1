"""The active run: logging calls, artifacts, and how the run ends."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pytest
import yaml

from modelyard.exceptions import ConflictError, NotFoundError, ValidationError
from modelyard.store import Metric
from modelyard.tracking import TrackingClient

matplotlib.use("Agg")


def test_logging_inside_a_block(client: TrackingClient) -> None:
    with client.start_run("churn", run_name="rf", tags={"team": "risk"}) as run:
        run.log_params({"model": "rf", "n_estimators": 200})
        run.log_param("seed", 0)
        for step, auc in enumerate([0.8, 0.85, 0.9]):
            run.log_metric("auc", auc, step=step)
        run.log_metrics({"loss": 0.3, "f1": 0.7}, step=2)
        run.set_tag("stage", "dev")
        run.set_tags({"owner": "ada"})
        run.log_batch(metrics=[Metric("extra", 1.0, 0, 5)], params={"p": 1}, tags={"t": "x"})
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.name == "rf"
    assert stored.info.user_id == "tester"
    assert stored.data.params == {"model": "rf", "n_estimators": "200", "seed": "0", "p": "1"}
    assert stored.data.metrics == {"auc": 0.9, "loss": 0.3, "f1": 0.7, "extra": 1.0}
    assert stored.data.tags == {"team": "risk", "stage": "dev", "owner": "ada", "t": "x"}
    assert [m.value for m in client.get_metric_history(run.run_id, "auc")] == [0.8, 0.85, 0.9]


def test_an_exception_marks_the_run_failed_and_propagates(client: TrackingClient) -> None:
    with pytest.raises(ZeroDivisionError), client.start_run("churn") as run:
        run.log_metric("auc", 0.5)
        _ = 1 / 0
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert stored.info.end_time is not None
    assert stored.data.tags["error"].startswith("ZeroDivisionError")
    assert stored.data.metrics == {"auc": 0.5}  # what was logged before stays


def test_ctrl_c_marks_the_run_killed(client: TrackingClient) -> None:
    with pytest.raises(KeyboardInterrupt), client.start_run("churn") as run:
        raise KeyboardInterrupt
    assert client.get_run(run.run_id).info.status == "KILLED"


def test_nested_runs(client: TrackingClient) -> None:
    with client.start_run("churn", run_name="parent") as parent:
        with client.start_run("churn", run_name="a", parent=parent) as a:
            pass
        with client.start_run("churn", run_name="b", parent=parent.run_id):
            pass
    children = client.search_runs("churn", filter=f"parent_run_id = '{parent.run_id}'")
    assert sorted(r.info.name for r in children) == ["a", "b"]
    assert client.get_run(a.run_id).info.parent_run_id == parent.run_id
    with pytest.raises(NotFoundError):
        client.start_run("churn", parent="e" * 32)


def test_bad_input_is_rejected_with_a_clear_message(client: TrackingClient) -> None:
    with client.start_run("churn") as run:
        with pytest.raises(ValidationError, match="must be a number"):
            run.log_metric("auc", "high")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="must not be empty"):
            run.log_metric("", 1.0)
        with pytest.raises(ValidationError, match="limit is 250"):
            run.log_param("k" * 300, 1)
        with pytest.raises(ValidationError, match="mapping"):
            run.log_metrics([("auc", 1.0)])  # type: ignore[arg-type]
        run.log_param("lr", 0.1)
        with pytest.raises(ConflictError, match="immutable"):
            run.log_param("lr", 0.2)
    with pytest.raises(NotFoundError, match="0000"):
        client.get_run("0" * 32)


def test_artifacts_round_trip(client: TrackingClient, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.bin").write_bytes(os.urandom(1000))
    single = tmp_path / "model.skops"
    single.write_bytes(b"model-bytes")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with client.start_run("churn") as run:
        run.log_artifact(folder, "outputs")
        run.log_artifact(single)
        run.log_text("hello ✓", "notes/readme.md")
        run.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        run.log_dict({"a": 1}, "config.yaml")
        run.log_figure(fig, "plots/line.png")
        run.log_figure(fig, "plots/line.svg")
    plt.close(fig)
    paths = [e.path for e in client.list_artifacts(run.run_id)]
    assert paths == [
        "config.json",
        "config.yaml",
        "model.skops",
        "notes/readme.md",
        "outputs/a.txt",
        "outputs/sub/b.bin",
        "plots/line.png",
        "plots/line.svg",
    ]
    read = client.read_artifact
    assert read(run.run_id, "outputs/a.txt") == b"alpha"
    assert read(run.run_id, "notes/readme.md").decode() == "hello ✓"
    assert json.loads(read(run.run_id, "config.json")) == {"a": 1, "b": [1, 2]}
    assert yaml.safe_load(read(run.run_id, "config.yaml")) == {"a": 1}
    assert read(run.run_id, "plots/line.png").startswith(b"\x89PNG")
    assert b"<svg" in read(run.run_id, "plots/line.svg")
    dest = tmp_path / "download"
    written = client.download_artifacts(run.run_id, dest, prefix="outputs/")
    assert sorted(p.relative_to(dest).as_posix() for p in written) == [
        "outputs/a.txt",
        "outputs/sub/b.bin",
    ]
    assert (dest / "outputs" / "sub" / "b.bin").read_bytes() == (
        folder / "sub" / "b.bin"
    ).read_bytes()


@pytest.mark.parametrize(
    "bad_path", ["/etc/passwd", "../escape.txt", "a/../../b", "a\\b", "a\x00b", "", "C:\\x"]
)
def test_hostile_artifact_paths_are_rejected(client: TrackingClient, bad_path: str) -> None:
    with client.start_run("churn") as run:
        with pytest.raises(ValidationError):
            run.log_text("x", bad_path)
        assert client.list_artifacts(run.run_id) == []


def test_symlink_out_of_a_logged_folder_is_refused(client: TrackingClient, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    folder = tmp_path / "logged"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    (folder / "link.txt").symlink_to(secret)
    with client.start_run("churn") as run:
        with pytest.raises(ValidationError, match="outside"):
            run.log_artifact(folder)
        assert client.list_artifacts(run.run_id) == []  # nothing half-logged
        with pytest.raises(NotFoundError, match="does not exist"):
            run.log_artifact(tmp_path / "missing")


def test_log_figure_needs_a_known_format_and_a_figure(client: TrackingClient) -> None:
    with client.start_run("churn") as run:
        with pytest.raises(ValidationError, match="image format"):
            run.log_figure(object(), "plot.gif")
        with pytest.raises(ValidationError, match="matplotlib Figure"):
            run.log_figure(object(), "plot.png")


def test_identical_artifacts_share_one_blob(client: TrackingClient) -> None:
    with client.start_run("churn") as a, client.start_run("churn") as b:
        first = a.log_text("same", "x.txt")
        second = b.log_text("same", "y.txt")
    assert first.blob == second.blob


def test_a_failure_whose_message_cannot_be_stored_still_fails_the_run(
    client: TrackingClient,
) -> None:
    with pytest.raises(ValueError, match="bad"), client.start_run("churn") as run:
        raise ValueError("bad \x00 byte")
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags["error"] == "ValueError: bad \\x00 byte"


def test_an_explicit_end_is_kept(client: TrackingClient) -> None:
    with client.start_run("churn") as run:
        run.end("KILLED")
    assert client.get_run(run.run_id).info.status == "KILLED"


def test_a_folder_with_an_unloggable_name_logs_nothing(
    client: TrackingClient, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "fine.txt").write_text("ok")
    (folder / "back\\slash.txt").write_text("bad name")
    with client.start_run("churn") as run:
        with pytest.raises(ValidationError, match="backslash"):
            run.log_artifact(folder)
        assert client.list_artifacts(run.run_id) == []
    assert not (tmp_path / "artifacts").exists() or not any(
        p.is_file() for p in (tmp_path / "artifacts").rglob("*")
    )
