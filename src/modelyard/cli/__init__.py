"""The ``modelyard`` command line: one module per command group, Typer + rich.

``main`` is the console entry point and the one place where errors become
messages and exit codes.
"""

from __future__ import annotations

import sys

from modelyard.cli import data, db, demo, experiments, models, predict, runs, serve, train
from modelyard.cli.app import app
from modelyard.cli.app import main as _main

__all__ = ["app", "main"]

app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(serve.deploy_app, name="deploy")
app.add_typer(db.app, name="db")
app.command("demo")(demo.demo)
app.command("train")(train.train_command)
app.command("serve")(serve.serve_command)
app.command("predict")(predict.predict_command)
app.command("predict-stream")(predict.predict_stream_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exits with the command's status."""
    sys.exit(_main(argv))
