"""``modelyard.cli._render``: value formatting and the run/experiment tables."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from modelyard.cli._render import (
    experiments_table,
    fmt_duration,
    fmt_time,
    fmt_value,
    runs_table,
)
from modelyard.store import Experiment, Run, RunData, RunInfo


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def render(table: object) -> str:
    console = Console(width=200, record=True, file=None, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def make_run(
    name: str, metrics: dict[str, float], *, run_id: str = "", parent: str | None = None
) -> Run:
    run_id = run_id or name.ljust(32, "0")
    info = RunInfo(run_id, 1, name, "FINISHED", "me", 0, 1500, parent)
    return Run(info, RunData(metrics=metrics))


def test_fmt_time(utc: None) -> None:
    assert fmt_time(None) == "-"
    assert fmt_time(0) == "1970-01-01 00:00:00"
    assert fmt_time(1_700_000_000_123) == "2023-11-14 22:13:20"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, "-"),
        (0, 0, "0.0s"),
        (1000, 2234, "1.2s"),
        (0, 59_900, "59.9s"),
        (0, 60_000, "1m00s"),
        (0, 184_000, "3m04s"),
        (0, 3_599_000, "59m59s"),
        (0, 3_600_000, "1h00m"),
        (0, 3_725_000, "1h02m"),
        (0, 90_000_000, "25h00m"),
    ],
)
def test_fmt_duration(start: int, end: int | None, expected: str) -> None:
    assert fmt_duration(start, end) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (0.123456, "0.1235"),
        (0.5, "0.5"),
        (12345678.0, "1.235e+07"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        ("rf", "rf"),
        ("", ""),
        ("[bold]x", "\\[bold]x"),
    ],
)
def test_fmt_value(value: float | str | None, expected: str) -> None:
    assert fmt_value(value) == expected


def test_experiments_table(utc: None) -> None:
    exps = [Experiment(7, "churn", "active", 0, 0), Experiment(8, "[/]", "active", 0, 0)]
    text = render(experiments_table(exps))
    assert "churn" in text
    assert "[/]" in text
    assert "1970-01-01 00:00:00" in text


def test_runs_table_shows_the_most_common_metrics_first() -> None:
    runs = [
        make_run("a", {"auc": 0.9, "loss": 0.1, "rare": 1.0}),
        make_run("b", {"auc": 0.8, "loss": 0.2}),
    ]
    table = runs_table(runs, max_metrics=2)
    assert [c.header for c in table.columns][5:] == ["auc", "loss"]
    assert table.caption == "1 more metric(s): `modelyard runs show RUN_ID` or --metric KEY"


def test_runs_table_with_chosen_metrics_and_nothing_hidden() -> None:
    table = runs_table([make_run("a", {"auc": 0.9})], metrics=["auc", "missing"])
    assert [c.header for c in table.columns][5:] == ["auc", "missing"]
    assert table.caption is None
    assert "0.9" in render(table)


def test_runs_table_indents_children_whose_parent_is_shown() -> None:
    parent = make_run("parent", {})
    child = make_run("child", {}, parent=parent.run_id)
    orphan = make_run("orphan", {}, parent="f" * 32)
    text = render(runs_table([parent, child, orphan]))
    assert "└ child" in text
    assert "└ orphan" not in text
    assert "1.5s" in text


def test_sparkline_scales_between_min_and_max() -> None:
    from modelyard.cli._render import sparkline

    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([2.0, 2.0]) == "▄▄"
    assert sparkline([1.0, float("nan"), 3.0]) == "▁ █"
    assert sparkline([float("nan")] * 3) == ""
    long = sparkline([float(i) for i in range(1000)], width=30)
    assert len(long) == 30
    assert long[0] == "▁"
    assert long[-1] == "█"
