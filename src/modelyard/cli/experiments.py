"""``modelyard experiments ...``"""

from __future__ import annotations

import typer

from modelyard.cli._render import experiments_table
from modelyard.cli.app import client, console, emit_json

__all__ = ["app"]

app = typer.Typer(help="List and inspect experiments.", no_args_is_help=True)


@app.command("list")
def list_experiments(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List experiments."""
    found = client(ctx).list_experiments()
    if as_json:
        emit_json([e.__dict__ | {"tags": dict(e.tags)} for e in found])
    elif not found:
        console.print("No experiments yet. Start one with `modelyard demo` or my.start_run().")
    else:
        console.print(experiments_table(found))
