"""One default value per process: built lazily, replaced values closed, rebuilt after fork."""

from __future__ import annotations

import os

from modelyard._utils.process_default import ProcessDefault


class Thing:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_built_once_then_reused() -> None:
    built: list[Thing] = []
    default: ProcessDefault[Thing] = ProcessDefault(Thing.close)

    def build() -> Thing:
        built.append(Thing(f"t{len(built)}"))
        return built[-1]

    assert default.get(build) is default.get(build)
    assert len(built) == 1


def test_setting_a_new_value_closes_the_old_one() -> None:
    default: ProcessDefault[Thing] = ProcessDefault(Thing.close)
    first = default.set(Thing("a"))
    second = default.set(Thing("b"))
    assert first.closed
    assert not second.closed
    assert default.get(lambda: Thing("unused")) is second


def test_a_forked_child_builds_its_own_and_leaves_the_parents_open() -> None:
    default: ProcessDefault[Thing] = ProcessDefault(Thing.close)
    parent_value = default.set(Thing("parent"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        child_value = default.get(lambda: Thing("child"))
        ok = child_value.name == "child" and not parent_value.closed
        default.set(Thing("child-2"))  # replacing must not close the parent's value
        ok = ok and not parent_value.closed and child_value.closed
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert default.get(lambda: Thing("unused")) is parent_value
