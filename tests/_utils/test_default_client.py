"""The default client behind module-level functions: made from the settings, replaced by connect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard._utils.default_client import DefaultClient
from modelyard.config import Settings


class Client:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No MODELYARD_* variables and no project file: the defaults apply."""
    for name in [n for n in os.environ if n.startswith("MODELYARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_get_makes_one_client_from_the_settings(isolated: Path) -> None:
    default = DefaultClient(Client, Client.close)
    client = default.get()
    assert default.get() is client
    assert client.settings.home == isolated / ".modelyard"


def test_connect_applies_overrides_and_closes_the_replaced_client(isolated: Path) -> None:
    default = DefaultClient(Client, Client.close)
    first = default.get()
    second = default.connect(home=isolated / "elsewhere", allow_pickle=True)
    assert first.closed
    assert not second.closed
    assert default.get() is second
    assert second.settings.home == isolated / "elsewhere"
    assert second.settings.allow_pickle is True
