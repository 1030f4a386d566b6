"""clock.woken: how every background loop waits between rounds, and where it stops."""

from __future__ import annotations

import asyncio

import pytest

from tijori.common.clock import woken


async def test_woken_says_whether_the_event_was_set_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await woken(event, 5) is True


async def test_a_loop_whose_cancellation_was_swallowed_stops_at_its_next_wait() -> None:
    """As Python 3.11's ``wait_for`` does when its future finishes as the task is cancelled
    (it returns the result): the loop must still end, not run on forever."""
    event, rounds = asyncio.Event(), 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            try:
                await asyncio.sleep(0.01)  # a library call that swallows the cancellation
            except asyncio.CancelledError:
                pass
            await woken(event, 0.01)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.005)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done, f"the loop ran on for {rounds} rounds after it was cancelled"
    with pytest.raises(asyncio.CancelledError):
        task.result()
    assert rounds == 1
