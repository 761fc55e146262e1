"""The model card in a real browser: headless Chromium opens the HTML offline and
every chart is drawn (a visible box, SVG paths, and more than a blank fill).

Needs Debian's ``chromium`` at /usr/bin/chromium (``apt-get install chromium``);
``.ci/run`` installs it in CI, where its absence fails the test instead of
skipping it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Route, sync_playwright

from modelyard.registry.card import ModelCard, write_card
from tests.registry import _card_samples as samples

pytestmark = pytest.mark.slow  # launching a browser and rendering two full cards: ~6 s

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the model-card browser test must run in CI, but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.parametrize(
    ("make_card", "expected"),
    [
        (samples.binary_card, samples.BINARY_CAPTIONS),
        (samples.regression_card, samples.REGRESSION_CAPTIONS),
    ],
    ids=["binary", "regression"],
)
def test_card_charts_render_offline_in_chromium(
    browser: Browser,
    tmp_path: Path,
    make_card: Callable[[], ModelCard],
    expected: tuple[str, ...],
) -> None:
    path = write_card(make_card(), tmp_path / "card.html")
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    foreign: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    page.route("**/*", guard)
    page.goto(path.as_uri(), wait_until="load")
    try:
        assert page.title() == "Model card: churn@3"
        charts = page.locator("figure.chart")
        assert charts.locator("figcaption").all_inner_texts() == list(expected)
        assert page.locator("figure.chart svg").count() == len(expected)
        for index in range(len(expected)):
            svg = charts.nth(index).locator("svg")
            box = svg.bounding_box()
            assert box is not None
            assert box["width"] > 100
            assert box["height"] > 50
            drawn = svg.evaluate("s => s.querySelectorAll('path, use').length")
            assert drawn > 10, f"chart {expected[index]!r} has only {drawn} drawn elements"
            assert _colours(svg.screenshot()) > 2, f"chart {expected[index]!r} looks blank"
        assert problems == []
        assert foreign == []
    finally:
        context.close()


def _colours(png: bytes) -> int:
    """How many distinct colours the screenshot holds (a blank box has one)."""
    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])
