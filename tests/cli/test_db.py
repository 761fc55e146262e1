"""``modelyard db upgrade`` / ``db current`` on fresh and existing databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from modelyard.store import head_revision
from modelyard.tracking import TrackingClient
from tests.cli.conftest import Result, words

CLI = Callable[..., Result]


def test_current_on_a_fresh_home_is_empty(cli: CLI) -> None:
    result = cli("db", "current")
    assert result.code == 0
    assert (
        words(result.out)
        == f"current: empty newest: {head_revision()} (run `modelyard db upgrade`)"
    )


def test_upgrade_a_fresh_home_then_again(cli: CLI, home: Path) -> None:
    first = cli("db", "upgrade")
    assert first.code == 0
    db = home.resolve() / "modelyard.db"
    assert words(first.out) == f"sqlite:///{db}: migrated empty -> {head_revision()}."
    assert db.is_file()

    second = cli("db", "upgrade")
    assert second.code == 0
    assert words(second.out) == f"sqlite:///{db} is already at revision {head_revision()} (newest)."

    current = cli("db", "current")
    assert (
        words(current.out) == f"current: {head_revision()} newest: {head_revision()} (up to date)"
    )


def test_a_database_made_by_the_client_is_current(cli: CLI, tracking: TrackingClient) -> None:
    with tracking.start_run("exp", run_name="a") as run:
        run.log_metric("auc", 0.5)
    assert "(up to date)" in cli("db", "current").out
    assert "already at revision" in words(cli("db", "upgrade").out)
    assert cli("runs", "show", run.run_id).code == 0


def test_upgrade_creates_a_missing_home_folder(cli: CLI, home: Path) -> None:
    target = home / "a" / "b"
    assert cli("--home", str(target), "db", "upgrade").code == 0
    assert (target / "modelyard.db").is_file()


def test_a_bad_db_url_is_a_one_line_error(cli: CLI) -> None:
    result = cli("--db-url", "not-a-url", "db", "current")
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err


def test_an_unsupported_backend_is_a_one_line_error(cli: CLI) -> None:
    result = cli("--db-url", "mysql://u@h/db", "db", "upgrade")
    assert result.code == 1
    assert "unsupported database backend 'mysql'" in result.err
