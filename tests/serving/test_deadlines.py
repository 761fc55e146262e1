"""Deadlines: FIFO deadlines with one coarse timer, as the inference routes use them."""

from __future__ import annotations

import asyncio
import time

import pytest

from modelyard.serving.deadlines import Deadlines


async def guarded(deadlines: Deadlines, seconds: float) -> str:
    watch = deadlines.watch()
    try:
        await asyncio.sleep(seconds)
        return "done"
    except asyncio.CancelledError:
        try:
            watch.check()
        except TimeoutError:
            return "timed out"
        raise
    finally:
        watch.close()


def test_only_the_tasks_past_their_deadline_are_cancelled() -> None:
    async def scenario() -> tuple[list[str], float]:
        deadlines = Deadlines(0.2, tick_s=0.02)
        started = time.perf_counter()
        results = await asyncio.gather(
            guarded(deadlines, 0.01), guarded(deadlines, 5), guarded(deadlines, 0.05)
        )
        return results, time.perf_counter() - started

    results, elapsed = asyncio.run(scenario())
    assert results == ["done", "timed out", "done"]
    assert 0.2 <= elapsed < 2.0  # fired after the deadline, at most a tick or so late


def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    async def scenario() -> None:
        deadlines = Deadlines(10, tick_s=0.01)
        task = asyncio.ensure_future(guarded(deadlines, 5))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_the_timer_stops_when_nothing_is_watched_and_restarts_on_a_new_loop() -> None:
    deadlines = Deadlines(0.05, tick_s=0.01)

    async def scenario() -> int:
        assert await guarded(deadlines, 0) == "done"
        await asyncio.sleep(0.05)
        return len(deadlines)

    assert asyncio.run(scenario()) == 0  # closed deadlines were dropped, no timer left
    assert asyncio.run(scenario()) == 0  # a second event loop works the same


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout_s and tick_s must be > 0"):
        Deadlines(0)
    with pytest.raises(ValueError, match=r"got 1\.0, -1"):
        Deadlines(1.0, tick_s=-1)


def test_deadlines_refuse_a_second_live_event_loop() -> None:
    import threading

    deadlines = Deadlines(1.0)
    other = asyncio.new_event_loop()
    ready = threading.Event()

    async def hold() -> None:
        deadlines.watch().close()
        ready.set()
        await asyncio.sleep(0.3)

    thread = threading.Thread(target=other.run_until_complete, args=(hold(),))
    thread.start()
    try:
        assert ready.wait(5)

        async def here() -> None:
            with pytest.raises(RuntimeError, match="another running event loop"):
                deadlines.watch()

        asyncio.run(here())
    finally:
        thread.join(5)
        other.close()
