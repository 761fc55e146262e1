"""The consumer-group helpers shared by stream ingestion and stream inference.

The group itself (creation, reads, reclaims, errors) runs against a real Redis in
``test_stream.py`` here and in ``tests/serving/test_stream.py``.
"""

from __future__ import annotations

import sys

import pytest

from modelyard.data.consumer_group import import_redis, newest_id, redact_url
from modelyard.exceptions import MissingDependencyError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@host:6379/0", "redis://:***@host:6379/0"),
        ("rediss://admin:hunter2@host:6380/1", "rediss://admin:***@host:6380/1"),
        ("redis://host/0?password=hunter2&db=2", "redis://host/0?password=***&db=2"),
        ("redis://host/0?PASSWORD=hunter2", "redis://host/0?PASSWORD=***"),
        ("redis://[::1/0", "<unparseable Redis URL>"),
    ],
)
def test_redact_url_hides_every_password(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_newest_id_compares_time_then_sequence_not_text() -> None:
    assert newest_id(["9-0", "10-0", "9-5"], None) == "10-0"
    assert newest_id(["10-1"], "10-2") == "10-2"
    assert newest_id(["1700000000000-3"], "1700000000000-12") == "1700000000000-12"
    assert newest_id(["5"], "4-9") == "5"


def test_import_redis_names_the_purpose_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` fail
    with pytest.raises(MissingDependencyError, match=r"^stream inference needs the redis") as info:
        import_redis("stream inference")
    assert "pip install 'modelyard[redis]'" in str(info.value)
    assert info.value.details["extra"] == "redis"
