"""A value with one instance per process: the default client behind module-level functions."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ProcessDefault"]

T = TypeVar("T")


class ProcessDefault(Generic[T]):
    """Holds one value per process, built on first use and again after a fork.

    A forked child never reuses its parent's value (its connections belong to the
    parent); a value replaced in the process that made it is closed.

    Args:
        close: Releases a replaced value.
    """

    def __init__(self, close: Callable[[T], None]) -> None:
        self._close = close
        self._lock = threading.Lock()
        self._value: T | None = None
        self._pid: int | None = None

    def get(self, build: Callable[[], T]) -> T:
        """The current value, or a new one from ``build`` (set as the current one)."""
        with self._lock:
            if self._value is not None and self._pid == os.getpid():
                return self._value
        return self.set(build())

    def set(self, value: T) -> T:
        """Make ``value`` current; close the previous one if this process made it."""
        with self._lock:
            old, old_pid = self._value, self._pid
            self._value, self._pid = value, os.getpid()
        if old is not None and old_pid == os.getpid():
            self._close(old)
        return value
