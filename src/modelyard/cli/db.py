"""``modelyard db ...``: schema migrations of the metadata database."""

from __future__ import annotations

import typer
from rich.markup import escape

from modelyard.cli.app import console, settings
from modelyard.store import current_revision, head_revision, make_engine, upgrade

__all__ = ["app"]

app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_db(ctx: typer.Context) -> None:
    """Migrate the metadata database to the schema this modelyard needs."""
    engine = make_engine(settings(ctx).db_url)
    try:
        before = upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    url = escape(engine.url.render_as_string(hide_password=True))
    if before == after:
        console.print(f"{url} is already at revision {after} (newest).")
    else:
        console.print(f"{url}: migrated {before or 'empty'} -> {after}.")


@app.command("current")
def current_db(ctx: typer.Context) -> None:
    """Show the schema revision of the metadata database and the newest one known."""
    engine = make_engine(settings(ctx).db_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else "run `modelyard db upgrade`"
    console.print(f"current: {current or 'empty'}   newest: {head}   ({state})")
