"""The Typer application and the one place where errors become messages and exit codes."""

from __future__ import annotations

import json
import math
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from modelyard import __version__
from modelyard.config import Settings, load_settings
from modelyard.exceptions import ModelyardError
from modelyard.tracking import TrackingClient

__all__ = ["app", "client", "console", "emit_json", "err_console", "main", "settings"]

# Piped output (CI logs, `make demo | tee`) gets 120 columns rather than rich's 80,
# so run tables are not squeezed into ellipses.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

app = typer.Typer(
    name="modelyard",
    help="modelyard: data, training, tracking, registry, serving and monitoring in one tool.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None, typer.Option(help="Home folder (default: $MODELYARD_HOME or ./.modelyard).")
    ] = None,
    db_url: Annotated[
        str | None, typer.Option(help="Metadata database URL (default: $MODELYARD_DB_URL).")
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = {"home": home, "db_url": db_url}


def emit_json(data: Any) -> None:
    """Print ``data`` as plain, valid JSON (for scripts and ``jq``).

    NaN becomes ``null`` and infinities the strings ``"inf"``/``"-inf"``, because
    strict JSON has no spelling for them.
    """
    sys.stdout.write(json.dumps(_strict(data), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def settings(ctx: typer.Context) -> Settings:
    """The settings for this invocation (global options > environment > file > default)."""
    obj = ctx.find_root().obj or {}
    return load_settings(home=obj.get("home"), db_url=obj.get("db_url"))


def client(ctx: typer.Context) -> TrackingClient:
    """A tracking client on the settings of this invocation, closed when the command ends."""
    tracking = TrackingClient.from_settings(settings(ctx))
    ctx.call_on_close(tracking.close)
    return tracking


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; ``ModelyardError`` -> its message and exit code 1, anything else ->
    "internal error" with the traceback and exit code 1."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="modelyard")
    except typer.Abort:
        err_console.print("[yellow]aborted[/]")
        return 130
    except typer.TyperException as exc:  # usage errors (exit 2) from typer's vendored click
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"Error: {exc.format_message()}", highlight=False, markup=False)
        return exc.exit_code
    except ModelyardError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 1
    except Exception:  # noqa: BLE001 - the one place unexpected errors are reported
        err_console.print("[bold red]internal error[/] (please report it with this traceback):")
        traceback.print_exc(file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0
