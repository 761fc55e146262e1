"""The ``modelyard`` command line: one module per command group, Typer + rich.

``main`` is the console entry point and the one place where errors become
messages and exit codes. Each command's module is imported only when that command
runs (or the help lists it), so ``modelyard runs list`` does not load the
training, registry and serving stacks.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from modelyard.cli.app import app
from modelyard.cli.app import main as _main

if TYPE_CHECKING:
    from typer import _click  # the click that typer vendors (its types in TyperGroup)

__all__ = ["app", "main"]

# Command name -> (module, attribute, whether it is a group of subcommands), in the
# order the help lists them.
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "demo": ("modelyard.cli.demo", "demo", False),
    "train": ("modelyard.cli.train", "train_command", False),
    "serve": ("modelyard.cli.serve", "serve_command", False),
    "predict": ("modelyard.cli.predict", "predict_command", False),
    "predict-stream": ("modelyard.cli.predict", "predict_stream_command", False),
    "experiments": ("modelyard.cli.experiments", "app", True),
    "runs": ("modelyard.cli.runs", "app", True),
    "data": ("modelyard.cli.data", "app", True),
    "models": ("modelyard.cli.models", "app", True),
    "deploy": ("modelyard.cli.serve", "deploy_app", True),
    "db": ("modelyard.cli.db", "app", True),
}


def _load(name: str) -> _click.Command:
    """Import command ``name`` and build it exactly as ``add_typer``/``command`` would."""
    module, attribute, is_group = _COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(
        rich_markup_mode=app.rich_markup_mode, pretty_exceptions_short=app.pretty_exceptions_short
    )
    if is_group:
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


class _LazyCommands(TyperGroup):
    """The root group: commands registered on ``app`` plus those of ``_COMMANDS``,
    each imported on first use (the pattern of Typer's own ``typer`` command)."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _COMMANDS if n not in self.commands)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in _COMMANDS:
            for name in self.list_commands(ctx):  # an unknown name: "did you mean" sees all
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


app.info.cls = _LazyCommands


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exits with the command's status."""
    sys.exit(_main(argv))
