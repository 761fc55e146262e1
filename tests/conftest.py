"""Shared fixtures: real SQLite files and a real PostgreSQL server.

PostgreSQL comes from ``MODELYARD_TEST_PG_URL`` (default: the server on
127.0.0.1:5432). Its tests are skipped when it cannot be reached, except in CI
(``CI=true``), where an unreachable server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from modelyard.artifacts import BlobStore
from modelyard.store import TrackingStore
from modelyard.store.schema import metadata
from modelyard.tracking import LocalTransport, TrackingClient

PG_ADMIN_URL = os.environ.get(
    "MODELYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases (dropped at the end of the session)."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        _pg_unavailable(str(exc).splitlines()[0])
    created: list[str] = []

    def make() -> str:
        name = f"modelyard_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_shared_url(pg_database: Callable[[], str]) -> str:
    """One migrated PostgreSQL database reused by the contract tests (truncated between)."""
    url = pg_database()
    TrackingStore(url).close()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each contract test runs once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'modelyard.db'}"
        return
    url = request.getfixturevalue("pg_shared_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[TrackingStore]:
    """A tracking store on the backend under test."""
    tracking_store = TrackingStore(db_url)
    yield tracking_store
    tracking_store.close()


@pytest.fixture
def client(store: TrackingStore, tmp_path: Path) -> TrackingClient:
    """A tracking client: the store under test plus a local blob store."""
    return TrackingClient(
        LocalTransport(store, BlobStore(str(tmp_path / "artifacts"))), user="tester"
    )


REDIS_URL = os.environ.get("MODELYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The URL of a reachable Redis (skipped locally when down; a failure in CI)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        if IN_CI:
            pytest.fail(f"Redis is required in CI but unavailable: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    return REDIS_URL


@pytest.fixture
def stream_name(redis_url: str) -> Iterator[str]:
    """A fresh Redis stream key, deleted (with its dead-letter stream) afterwards."""
    import redis

    name = f"modelyard-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, f"{name}:dead-letter")
    client.close()
