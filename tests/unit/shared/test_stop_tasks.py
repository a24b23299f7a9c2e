"""A service's stop ends its background loops even when a library swallowed the first cancel
(PyMongo's async driver does, now and then, mid-command): the portal test that started a
service twice once hung CI for 25 minutes on exactly this."""

from __future__ import annotations

import asyncio

from shared.service import stop_tasks


async def _loop_that_swallows_one_cancel(ticks: list[int]) -> None:
    swallowed = False
    while True:
        try:
            await asyncio.sleep(0.01)  # stands for a driver call that eats the cancellation
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True
        ticks.append(1)
        await asyncio.sleep(0.01)


async def test_a_loop_that_swallowed_the_first_cancel_is_still_stopped():
    ticks: list[int] = []
    task = asyncio.create_task(_loop_that_swallows_one_cancel(ticks), name="probe")
    await asyncio.sleep(0.05)
    # one cancel alone leaves it running
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=0.2)
    assert not done and task.cancelling()
    stuck = await stop_tasks([task], grace_seconds=5, every=0.05)
    assert stuck == [] and task.cancelled()


async def test_a_task_that_never_stops_is_named_and_left_behind():
    release = asyncio.Event()

    async def stubborn():
        while not release.is_set():
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(stubborn(), name="stubborn")
    finished = asyncio.create_task(asyncio.sleep(0), name="finished")
    await asyncio.sleep(0.01)
    assert await stop_tasks([task, finished], grace_seconds=0.3, every=0.05) == ["stubborn"]
    assert not task.done()
    release.set()
    await task
