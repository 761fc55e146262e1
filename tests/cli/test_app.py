"""``modelyard.cli.app``: global options, and the one place errors become messages and codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from modelyard import __version__
from modelyard.cli import runs as runs_module
from modelyard.tracking import TrackingClient
from tests.cli.conftest import Populated, Result, words

CLI = Callable[..., Result]
MISSING_RUN = "0" * 32


def test_version(cli: CLI) -> None:
    result = cli("--version")
    assert (result.code, result.out, result.err) == (0, f"modelyard {__version__}\n", "")


def test_no_arguments_prints_the_help(cli: CLI) -> None:
    result = cli()
    assert "Usage: modelyard" in result.out + result.err
    for group in ("experiments", "runs", "db", "demo"):
        assert group in result.out
    assert "Traceback" not in result.err


def test_help_exits_zero(cli: CLI) -> None:
    result = cli("runs", "--help")
    assert result.code == 0
    assert "List, show and compare runs." in result.out


def test_home_option_overrides_the_environment(cli: CLI, home: Path) -> None:
    other = home / "other-home"
    assert cli("--home", str(other), "db", "upgrade").code == 0
    assert (other / "modelyard.db").is_file()
    assert not (home / "modelyard.db").exists()


def test_db_url_option_overrides_the_environment(cli: CLI, home: Path) -> None:
    db = home / "elsewhere" / "meta.db"
    result = cli("--db-url", f"sqlite:///{db}", "db", "upgrade")
    assert result.code == 0
    assert str(db) in words(result.out)
    assert db.is_file()


# -- errors ------------------------------------------------------------------------


def _assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err


def test_unknown_run_is_a_one_line_error(cli: CLI) -> None:
    result = cli("runs", "show", MISSING_RUN)
    _assert_one_line_error(result, MISSING_RUN)
    assert len(result.err.splitlines()) == 1


def test_malformed_run_id_is_a_one_line_error(cli: CLI) -> None:
    result = cli("runs", "show", "nope")
    _assert_one_line_error(result, "'nope' is not a run id (32 lowercase hex characters)")
    assert len(result.err.splitlines()) == 1


def test_unknown_experiment_names_the_existing_ones(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", "-e", "nosuch")
    _assert_one_line_error(result, "no experiment named 'nosuch'", "churn", "other")


@pytest.mark.parametrize("text", ["[bold]x", "[/]", "[red]oops[/red]"])
def test_error_messages_are_printed_verbatim(cli: CLI, text: str) -> None:
    result = cli("runs", "show", text)
    _assert_one_line_error(result, f"{text!r} is not a run id")


def test_filter_syntax_error_points_at_the_token(cli: CLI, populated: Populated) -> None:
    text = "metrics.auc >> 0.9"
    result = cli("runs", "list", "--filter", text)
    _assert_one_line_error(result)
    lines = result.err.splitlines()
    assert lines[-2] == f"  {text}"
    caret = lines[-1].index("^")
    assert lines[-1].strip() == "^"
    assert lines[-2][caret] == ">"


def test_unexpected_exception_is_an_internal_error_with_traceback(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: typer.Context) -> TrackingClient:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runs_module, "client", broken)
    result = cli("runs", "list")
    assert result.code == 1
    assert result.err.startswith("internal error (please report it with this traceback):")
    assert "Traceback (most recent call last):" in result.err
    assert result.err.rstrip().endswith("RuntimeError: disk on fire")


def test_abort_exits_130(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    def aborted(ctx: typer.Context) -> TrackingClient:
        raise typer.Abort()

    monkeypatch.setattr(runs_module, "client", aborted)
    result = cli("runs", "list")
    assert (result.code, result.err) == (130, "aborted\n")


def test_ctrl_c_exits_130(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(ctx: typer.Context) -> TrackingClient:
        raise KeyboardInterrupt

    monkeypatch.setattr(runs_module, "client", interrupted)
    assert cli("runs", "list").code == 130


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("runs", "list", "--bogus"), "No such option: --bogus"),
        (("runs", "show"), "Missing argument"),
        (("runs", "compare"), "Missing argument"),
        (("frobnicate",), "No such command 'frobnicate'"),
        (("runs", "list", "--max", "many"), "Invalid value for '--max'"),
        (("demo", "--folds", "1"), "Invalid value for '--folds'"),
    ],
)
def test_usage_errors_exit_2_with_clicks_message(
    cli: CLI, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.err
    assert "Usage: modelyard" in result.err
    assert "Traceback" not in result.err
    assert "internal error" not in result.err


def test_every_command_closes_its_client(
    cli: CLI, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[TrackingClient] = []
    closed: list[TrackingClient] = []
    from_settings = TrackingClient.from_settings.__func__  # type: ignore[attr-defined]
    close = TrackingClient.close

    def spy_open(cls: type[TrackingClient], settings: object = None) -> TrackingClient:
        client = from_settings(cls, settings)
        opened.append(client)
        return client

    def spy_close(self: TrackingClient) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(TrackingClient, "from_settings", classmethod(spy_open))
    monkeypatch.setattr(TrackingClient, "close", spy_close)
    for args in (
        ("experiments", "list"),
        ("runs", "list"),
        ("runs", "show", populated.alpha),
        ("runs", "compare", populated.alpha, populated.beta),
        ("runs", "show", MISSING_RUN),
    ):
        cli(*args)
    assert len(opened) == 5
    assert all(any(c is o for c in closed) for o in opened)
