"""Per-request deadlines at O(1) cost: one queue and one coarse timer per event loop.

``asyncio.timeout()`` arms a timer handle per use (about 5 to 10 microseconds with its
cancellation, twice per request: the body read and the answer), a real share of a
request that costs ~100 microseconds in all. A server's timeouts are the same for every
request, so deadlines expire in the order they were set: a :class:`Deadlines` keeps
them in a FIFO queue and one timer, ticking every ``tick_s`` while anything is
watched, cancels the tasks whose deadline passed. A deadline therefore fires up to
``tick_s`` late, which is fine for timeouts measured in seconds.

Usage inside a task::

    watch = deadlines.watch()
    try:
        body = await receive_everything()
    except asyncio.CancelledError:
        watch.check()  # raises TimeoutError if the deadline cancelled us
        raise          # someone else cancelled the task: let it go
    finally:
        watch.close()
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Deadlines", "Watch"]


class Watch:
    """One task's deadline; :meth:`close` it when the guarded work is over."""

    __slots__ = ("closed", "deadline", "expired", "task")

    def __init__(self, task: asyncio.Task[object] | None, deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.closed = False
        self.expired = False

    def close(self) -> None:
        """The guarded work ended (the timer will skip this deadline)."""
        self.closed = True

    def check(self) -> None:
        """Call on ``CancelledError``: turn a cancellation by the deadline into
        ``TimeoutError`` (the task is uncancelled); other cancellations are left alone."""
        if self.expired and self.task is not None:
            self.expired = False
            self.task.uncancel()
            raise TimeoutError


class Deadlines:
    """Deadlines of ``timeout_s`` for tasks of one event loop.

    Args:
        timeout_s: How long a watched task may take.
        tick_s: How often expired deadlines are looked for (while any is watched).

    Raises:
        ValueError: A non-positive ``timeout_s`` or ``tick_s``.
    """

    def __init__(self, timeout_s: float, *, tick_s: float = 0.05) -> None:
        if not (timeout_s > 0 and tick_s > 0):
            raise ValueError(f"timeout_s and tick_s must be > 0, got {timeout_s}, {tick_s}")
        self.timeout_s = float(timeout_s)
        self.tick_s = min(float(tick_s), self.timeout_s)
        self._queue: deque[Watch] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self) -> Watch:
        """Start the deadline of the current task (call from inside it)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError(
                    "these deadlines belong to another running event loop; make one "
                    "Deadlines per loop"
                )
            self._loop, self._timer = loop, None  # the old loop is gone, and its tasks
            self._queue.clear()
        watch = Watch(asyncio.current_task(loop), loop.time() + self.timeout_s)
        self._queue.append(watch)
        if self._timer is None:
            self._timer = loop.call_later(self.tick_s, self._expire)
        return watch

    def __len__(self) -> int:
        return len(self._queue)

    def _expire(self) -> None:
        loop, queue = self._loop, self._queue
        self._timer = None
        if loop is None:
            return
        now = loop.time()
        while queue and (queue[0].closed or queue[0].deadline <= now):
            watch = queue.popleft()
            if not watch.closed and watch.task is not None and not watch.task.done():
                watch.expired = True
                watch.closed = True
                watch.task.cancel()
        if queue:
            self._timer = loop.call_later(self.tick_s, self._expire)
