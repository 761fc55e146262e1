"""Deployment routes and their change history on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.exceptions import ConflictError, NotFoundError, ValidationError
from modelyard.store import DeploymentChange, DeploymentRoutes, ModelStore, Route

ONE: list[Route] = [("churn", 1, "primary", 100.0)]
CANARY: list[Route] = [("churn", 1, "primary", 75.0), ("churn", 2, "canary", 25.0)]
TWO: list[Route] = [("churn", 2, "primary", 100.0)]


@pytest.fixture
def models(db_url: str) -> Iterator[ModelStore]:
    store = ModelStore(db_url)
    for _ in range(3):
        store.create_version("churn", _new())
    yield store
    store.close()


def _new() -> dict[str, Any]:
    return {
        "run_id": "r" * 32,
        "task": "binary",
        "lineage": {},
        "signature": {"inputs": [], "output": {"task": "binary"}},
        "metrics": {},
        "size_bytes": 1,
        "formats": {},
    }


def _actions(changes: list[DeploymentChange]) -> list[tuple[str, bool]]:
    return [(c.action, c.undoable) for c in changes]


def test_first_routes_are_written_without_history(models: ModelStore) -> None:
    assert models.get_deployment("web") is None
    assert models.record_change("web", ONE, sticky=True, action="start", user="boot") is None
    assert models.get_deployment("web") == DeploymentRoutes(tuple(ONE), True)
    assert models.get_routes("web") == ONE
    assert models.list_changes("web") == []
    # Writing what is already there changes and records nothing.
    assert models.record_change("web", ONE, sticky=True, action="set") is None
    assert models.list_changes("web") == []


def test_a_change_pushes_what_it_replaced(models: ModelStore) -> None:
    models.record_change("web", ONE, sticky=False, action="start")
    pushed = models.record_change("web", CANARY, sticky=True, action="canary", user="ana")
    assert pushed is not None
    assert (pushed.action, pushed.routes, pushed.sticky, pushed.user) == (
        "canary",
        tuple(ONE),
        False,
        "ana",
    )
    models.record_change("web", TWO, sticky=True, action="promote")
    assert models.get_deployment("web") == DeploymentRoutes(tuple(TWO), True)
    history = models.list_changes("web")
    assert [(c.action, c.routes) for c in history] == [
        ("promote", tuple(CANARY)),
        ("canary", tuple(ONE)),
    ]
    assert models.list_changes("web", limit=1) == history[:1]
    # A sticky flag alone is a change too.
    models.record_change("web", TWO, sticky=False, action="set")
    assert models.list_changes("web", limit=1)[0].sticky is True


def test_rollbacks_go_back_one_change_each(models: ModelStore) -> None:
    models.record_change("web", ONE, sticky=False, action="start")
    models.record_change("web", CANARY, sticky=True, action="canary")
    models.record_change("web", TWO, sticky=False, action="promote", user="bo")
    undone = models.pop_change("web", user="cy")
    assert undone is not None
    assert (undone.action, undone.undone_at is not None) == ("promote", True)
    assert models.get_deployment("web") == DeploymentRoutes(tuple(CANARY), True)
    second = models.pop_change("web")
    assert second is not None
    assert second.action == "canary"
    assert models.get_deployment("web") == DeploymentRoutes(tuple(ONE), False)
    assert models.pop_change("web") is None  # nothing left to undo
    assert models.get_routes("web") == ONE
    history = models.list_changes("web")
    assert _actions(history) == [
        ("rollback", False),
        ("rollback", False),
        ("promote", False),
        ("canary", False),
    ]
    assert history[1].routes == tuple(TWO)  # the first rollback replaced the promotion
    assert history[1].user == "cy"
    assert models.list_changes("web", undoable=True) == []
    # A change after a rollback is undone first; older history stays undone.
    models.record_change("web", TWO, sticky=False, action="set")
    assert [c.action for c in models.list_changes("web", undoable=True)] == ["set"]


def test_a_conditional_rollback_refuses_a_moved_history(models: ModelStore) -> None:
    models.record_change("web", ONE, sticky=False, action="start")
    models.record_change("web", CANARY, sticky=False, action="canary")
    [seen] = models.list_changes("web", undoable=True)
    models.record_change("web", TWO, sticky=False, action="promote")  # came first
    with pytest.raises(ConflictError, match="changed while this rollback was prepared"):
        models.pop_change("web", expect=seen.change_id)
    assert models.get_routes("web") == TWO
    newest = models.list_changes("web", undoable=True)[0]
    assert models.pop_change("web", expect=newest.change_id) == models.list_changes("web")[1]
    with pytest.raises(ConflictError):
        models.pop_change("web", expect=newest.change_id)  # already undone
    with pytest.raises(ConflictError):
        models.pop_change("nothing-here", expect=1)


def test_only_routed_versions_are_protected(models: ModelStore) -> None:
    models.record_change("web", ONE, sticky=False, action="start")
    models.record_change("web", TWO, sticky=False, action="set")
    with pytest.raises(ConflictError, match="deployment"):
        models.delete_version("churn", 2)
    models.delete_version("churn", 1)  # only the history names it
    with pytest.raises(NotFoundError, match="no version 1"):
        models.pop_change("web")
    assert models.get_routes("web") == TWO  # the failed rollback changed nothing
    assert len(models.list_changes("web", undoable=True)) == 1


def test_bad_changes_are_refused(models: ModelStore) -> None:
    with pytest.raises(ValidationError, match="start, set, canary, promote"):
        models.record_change("web", ONE, sticky=False, action="rollback")
    with pytest.raises(ValidationError, match="role"):
        models.record_change("web", [("churn", 1, "leader", 100.0)], sticky=False, action="set")
    with pytest.raises(NotFoundError, match="versions: 1, 2, 3"):
        models.record_change("web", [("churn", 9, "primary", 100.0)], sticky=False, action="set")
    assert models.get_deployment("web") is None


def test_set_routes_keeps_the_sticky_flag_unless_given(models: ModelStore) -> None:
    models.set_routes("web", ONE, sticky=True)
    models.set_routes("web", TWO)
    assert models.get_deployment("web") == DeploymentRoutes(tuple(TWO), True)
    models.set_routes("web", [], sticky=False)
    assert models.get_deployment("web") == DeploymentRoutes((), False)
    assert models.list_changes("web") == []


def _pop_at_once(stores: list[ModelStore]) -> list[DeploymentChange | None]:
    barrier = threading.Barrier(len(stores))
    got: list[DeploymentChange | None] = []
    errors: list[BaseException] = []

    def pop(store: ModelStore) -> None:
        try:
            barrier.wait()
            got.append(store.pop_change("web"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=pop, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    return got


def test_two_rollbacks_at_once_never_take_the_same_entry(db_url: str) -> None:
    setup = ModelStore(db_url)
    for _ in range(2):
        setup.create_version("churn", _new())
    setup.record_change("web", ONE, sticky=False, action="start")
    stores = [ModelStore(db_url) for _ in range(2)]
    try:
        for _ in range(5):
            setup.record_change("web", TWO, sticky=False, action="set")  # one entry to undo
            winners = [g for g in _pop_at_once(stores) if g is not None]
            assert len(winners) == 1
            assert tuple(setup.get_routes("web")) == winners[0].routes == tuple(ONE)
            assert setup.list_changes("web", undoable=True) == []
    finally:
        for store in (setup, *stores):
            store.close()
