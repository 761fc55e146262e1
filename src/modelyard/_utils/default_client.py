"""The default client behind a package's module-level functions (``my.data.get``, ...).

Tracking, data and the registry each keep one client per process, made from the
settings on first use or by their ``connect``; this is that pattern, written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from modelyard._utils.process_default import ProcessDefault
from modelyard.config import Settings, load_settings

__all__ = ["DefaultClient"]

C = TypeVar("C")


class DefaultClient(Generic[C]):
    """One client per process: made from the settings on first use (again after a fork),
    or by :meth:`connect`; a replaced client is closed.

    Args:
        from_settings: Makes a client from resolved settings (``DataClient.from_settings``).
        close: Releases a replaced client.

    Example:
        >>> _default = DefaultClient(DataClient.from_settings, DataClient.close)
        >>> _default.connect(home="/tmp/yard")  # or, lazily: _default.get()
    """

    def __init__(self, from_settings: Callable[[Settings], C], close: Callable[[C], None]) -> None:
        self._from_settings = from_settings
        self._default: ProcessDefault[C] = ProcessDefault(close)

    def connect(self, **overrides: Any) -> C:
        """Make (and return) the default client from the settings, with ``overrides``
        (keyword arguments of :func:`~modelyard.config.load_settings`) taking precedence."""
        return self._default.set(self._from_settings(load_settings(**overrides)))

    def get(self) -> C:
        """The default client (made from the settings on first use, again after a fork)."""
        return self._default.get(self.connect)
