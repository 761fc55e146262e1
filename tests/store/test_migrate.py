"""Migrations: automatic on an empty database, explicit for an old one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, inspect, text

from modelyard.exceptions import ConfigError, SchemaVersionError
from modelyard.store import (
    DeploymentRoutes,
    ModelStore,
    TrackingStore,
    current_revision,
    head_revision,
    make_engine,
    migrate,
    upgrade,
)
from modelyard.store.schema import (
    deployment_routes,
    metadata,
    model_versions,
    registered_models,
)


def test_first_use_of_an_empty_database_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'new.db'}"
    TrackingStore(url).close()
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}


def test_migrations_match_the_schema_module(db_url: str) -> None:
    """What the migrations build must be what ``schema.py`` describes."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    TrackingStore(db_url).close()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_a_database_from_a_newer_modelyard_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaVersionError, match="upgrade modelyard"):
        TrackingStore(url)


def test_an_outdated_database_is_refused_until_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(make_engine(url))
    # This modelyard "needs" a revision after the database's: it must not
    # migrate behind the operator's back, and must say what to run.
    monkeypatch.setattr(migrate, "head_revision", lambda: "0999")
    with pytest.raises(SchemaVersionError, match="modelyard db upgrade"):
        TrackingStore(url)
    monkeypatch.undo()
    TrackingStore(url).close()


def test_a_foreign_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER)"))
    with pytest.raises(SchemaVersionError, match="no modelyard schema"):
        TrackingStore(f"sqlite:///{path}")
    assert inspect(engine).get_table_names() == ["invoices"]


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert upgrade(engine) is None
    assert upgrade(engine) == head_revision()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://root@localhost/x", "sqlite://", "sqlite:///:memory:"],
)
def test_bad_database_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        make_engine(url)


def test_sqlite_tables_match_the_schema_options(tmp_path: Path) -> None:
    """Table options autogenerate does not compare (WITHOUT ROWID) must agree too."""
    url = f"sqlite:///{tmp_path / 'opts.db'}"
    TrackingStore(url).close()
    engine = make_engine(url)
    with engine.connect() as conn:
        created = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master").all())
    engine.dispose()
    for table in metadata.sorted_tables:
        wanted = table.dialect_options["sqlite"]["with_rowid"] is False
        assert ("WITHOUT ROWID" in created[table.name]) == wanted, table.name


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, never migrated database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    make: Callable[[], str] = request.getfixturevalue("pg_database")
    return make()


def _alembic(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    config.attributes["connection"] = conn
    return config


def test_0004_keeps_the_routes_of_0003_and_downgrades(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(registered_models.insert().values(name="churn", created_at=1, last_version=1))
        conn.execute(
            model_versions.insert().values(
                model_id=1, version=1, run_id="r" * 32, status="ready", task="binary",
                created_at=1, lineage="{}", signature="{}", metrics="{}", size_bytes=1,
                formats="{}",
            )
        )  # fmt: skip
        conn.execute(
            deployment_routes.insert().values(
                deployment="web", model_id=1, version=1, role="primary", weight=100.0, updated_at=7
            )
        )
    assert upgrade(engine) == "0003"
    models = ModelStore(engine)
    assert models.get_deployment("web") == DeploymentRoutes(
        (("churn", 1, "primary", 100.0),), False
    )
    models.record_change("web", [("churn", 1, "primary", 100.0)], sticky=True, action="set")
    assert [c.action for c in models.list_changes("web")] == ["set"]
    with engine.begin() as conn:
        command.downgrade(_alembic(conn), "0003")
    assert current_revision(engine) == "0003"
    names = set(inspect(engine).get_table_names())
    assert "deployment_routes" in names
    assert not names & {"deployments", "deployment_changes"}
    upgrade(engine)  # and up again
    assert current_revision(engine) == head_revision()
    engine.dispose()
