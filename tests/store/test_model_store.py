"""The model registry tables on SQLite and PostgreSQL: versions, aliases, history."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.exceptions import ConflictError, NotFoundError, ValidationError
from modelyard.store import ModelStore


@pytest.fixture
def models(db_url: str) -> Iterator[ModelStore]:
    store = ModelStore(db_url)
    yield store
    store.close()


def _new(run_id: str = "r" * 32, auc: float = 0.8, task: str = "binary") -> dict[str, Any]:
    return {
        "run_id": run_id,
        "task": task,
        "lineage": {"data": "churn@1", "run_id": run_id},
        "signature": {"inputs": [{"name": "x", "kind": "numeric"}], "output": {"task": task}},
        "metrics": {"roc_auc": auc},
        "size_bytes": 1234,
        "formats": {"skops": {"blob": "a" * 64, "size": 1234}},
        "description": "first",
    }


def test_versions_are_numbered_and_kept_whole(models: ModelStore) -> None:
    v1 = models.create_version("churn", _new(), created_by="ana")
    v2 = models.create_version("churn", _new(auc=0.9))
    assert (v1.version, v2.version) == (1, 2)
    got = models.get_version("churn", 1)
    assert got.metrics == {"roc_auc": 0.8}
    assert got.lineage["data"] == "churn@1"
    assert got.formats["skops"]["size"] == 1234
    assert got.created_by == "ana"
    assert got.status == "ready"
    assert got.ref == "churn@1"
    assert models.get_version("churn").version == 2
    [model] = models.list_models()
    assert model.name == "churn"
    assert model.latest_version == 2


def test_missing_model_and_version_list_what_exists(models: ModelStore) -> None:
    models.create_version("churn", _new())
    with pytest.raises(NotFoundError, match="models: churn"):
        models.get_version("chrun")
    with pytest.raises(NotFoundError, match="versions: 1"):
        models.get_version("churn", 7)


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 200, "../etc", "a/b", None])
def test_bad_names_are_refused(models: ModelStore, name: Any) -> None:
    with pytest.raises(ValidationError, match="model name"):
        models.create_version(name, _new())
    assert models.list_models() == []


def test_alias_moves_atomically_and_is_recorded(models: ModelStore) -> None:
    for _ in range(3):
        models.create_version("churn", _new())
    assert models.set_alias("churn", "champion", 1, user="ana", reason="first") is None
    assert models.set_alias("churn", "champion", 3, user="bo", reason="better") == 1
    assert models.resolve_alias("churn", "champion").version == 3
    assert models.get_version("churn", 3).aliases == ("champion",)
    moves = [e for e in models.history("churn") if e.kind == "alias"]
    assert [(e.from_value, e.to_value, e.user, e.reason) for e in moves] == [
        (None, "1", "ana", "first"),
        ("1", "3", "bo", "better"),
    ]
    kinds = [e.kind for e in models.history("churn")]
    assert kinds == ["register", "register", "register", "alias", "alias"]


def test_unknown_alias_lists_the_known_ones(models: ModelStore) -> None:
    models.create_version("churn", _new())
    models.set_alias("churn", "champion", 1)
    with pytest.raises(NotFoundError, match=r"aliases: champion \(v1\)"):
        models.resolve_alias("churn", "challenger")


@pytest.mark.parametrize("alias", ["latest", "", "1abc", "a b", "x" * 65, "a@b"])
def test_bad_aliases_are_refused(models: ModelStore, alias: str) -> None:
    models.create_version("churn", _new())
    with pytest.raises(ValidationError, match="alias"):
        models.set_alias("churn", alias, 1)


def test_delete_and_archive_are_refused_while_an_alias_points(models: ModelStore) -> None:
    models.create_version("churn", _new())
    models.create_version("churn", _new())
    models.set_alias("churn", "champion", 1)
    with pytest.raises(ConflictError, match="champion"):
        models.delete_version("churn", 1)
    with pytest.raises(ConflictError, match="champion"):
        models.set_status("churn", 1, "archived")
    models.delete_alias("churn", "champion", reason="retired")
    models.set_status("churn", 1, "archived", reason="old")
    with pytest.raises(ConflictError, match="archived"):
        models.set_alias("churn", "champion", 1)
    assert [v.version for v in models.list_versions("churn", status="archived")] == [1]
    models.delete_version("churn", 1, reason="cleanup")
    with pytest.raises(NotFoundError):
        models.get_version("churn", 1)
    assert models.list_versions("churn")[0].version == 2


def test_delete_is_refused_while_a_deployment_routes_to_it(models: ModelStore) -> None:
    models.create_version("churn", _new())
    models.set_routes("web", [("churn", 1, "primary", 100.0)])
    assert models.routes_for("churn", 1) == ["web"]
    with pytest.raises(ConflictError, match="deployment"):
        models.delete_version("churn", 1)
    models.set_routes("web", [])
    models.delete_version("churn", 1)


def test_documents_are_stored_and_filters_apply(models: ModelStore) -> None:
    models.create_version("churn", _new(run_id="a" * 32))
    models.create_version("price", _new(run_id="b" * 32, task="regression"))
    models.set_document("churn", 1, "evaluation", {"metrics": {"roc_auc": {"value": 0.8}}})
    assert models.get_version("churn", 1).evaluation == {"metrics": {"roc_auc": {"value": 0.8}}}
    assert [v.name for v in models.list_versions(task="regression")] == ["price"]
    assert [v.name for v in models.list_versions(run_id="a" * 32)] == ["churn"]
    with pytest.raises(ValidationError, match="status"):
        models.list_versions(status="deleted")
    with pytest.raises(ValidationError, match="field"):
        models.set_document("churn", 1, "lineage", {})


def test_nan_cannot_sneak_into_documents(models: ModelStore) -> None:
    new = _new()
    new["metrics"] = {"roc_auc": float("nan")}
    with pytest.raises(ValueError):
        models.create_version("churn", new)
    assert models.list_models() == []


@pytest.mark.slow
def test_concurrent_registrations_get_distinct_versions(db_url: str) -> None:
    ModelStore(db_url).close()  # migrate once
    got: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        store = ModelStore(db_url)
        try:
            for _ in range(3):
                got.append(store.create_version("churn", _new()).version)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == list(range(1, 13))


def test_version_numbers_are_never_reused(models: ModelStore) -> None:
    for _ in range(3):
        models.create_version("churn", _new())
    models.delete_version("churn", 3)
    models.delete_version("churn", 2)
    assert models.create_version("churn", _new()).version == 4
    models.delete_version("churn", 1)
    models.delete_version("churn", 4)
    assert models.create_version("churn", _new()).version == 5


def test_a_conditional_alias_move_refuses_a_moved_alias(models: ModelStore) -> None:
    for _ in range(3):
        models.create_version("churn", _new())
    assert models.set_alias("churn", "champion", 1, expect=None) is None
    models.set_alias("churn", "champion", 2)  # someone else promoted meanwhile
    with pytest.raises(ConflictError, match="moved from v1 to v2"):
        models.set_alias("churn", "champion", 3, expect=1)
    assert models.resolve_alias("churn", "champion").version == 2
    # Pointing where it already points changes nothing and records nothing.
    events = len(models.history("churn"))
    assert models.set_alias("churn", "champion", 2) == 2
    assert len(models.history("churn")) == events


def test_latest_skips_archived_versions(models: ModelStore) -> None:
    models.create_version("churn", _new())
    models.create_version("churn", _new())
    models.set_status("churn", 2, "archived")
    assert models.get_version("churn").version == 1
    models.set_status("churn", 1, "archived")
    with pytest.raises(NotFoundError, match="no ready"):
        models.get_version("churn")
    assert models.get_version("churn", 2).status == "archived"
