"""`Coalesced`: calls made in one turn of the event loop, answered by one batch."""

from __future__ import annotations

import asyncio

import pytest

from fastapi_auth.kernel.coalesced import Coalesced


class Recorder:
    """Answers each key with its double and remembers every batch it was sent."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.changed = asyncio.Condition()

    async def sent(self, batches: int) -> None:
        async with asyncio.timeout(1), self.changed:
            await self.changed.wait_for(lambda: len(self.batches) >= batches)

    async def answer(self, keys: list[int]) -> list[int | None]:
        async with self.changed:
            self.batches.append(keys)
            self.changed.notify_all()
        await self.release.wait()
        return [None if key < 0 else key * 2 for key in keys]


async def test_calls_made_in_one_turn_go_in_one_batch_each_getting_its_own_answer() -> None:
    recorder = Recorder()
    coalesced = Coalesced(recorder.answer)
    answers = await asyncio.gather(*(coalesced.call(key) for key in (1, 2, -3, 2)))
    assert answers == [2, 4, None, 4]
    assert recorder.batches == [[1, 2, -3, 2]]


async def test_a_call_never_joins_a_batch_already_sent() -> None:
    """What it asks about may have changed since that batch was sent."""
    recorder = Recorder()
    recorder.release.clear()
    coalesced = Coalesced(recorder.answer)
    first = asyncio.ensure_future(coalesced.call(1))
    await recorder.sent(1)
    second = asyncio.ensure_future(coalesced.call(2))
    await recorder.sent(2)
    recorder.release.set()
    assert [await first, await second] == [2, 4]
    assert recorder.batches == [[1], [2]]


async def test_batches_are_cut_at_their_limit() -> None:
    recorder = Recorder()
    coalesced = Coalesced(recorder.answer, max_batch=3)
    answers = await asyncio.gather(*(coalesced.call(key) for key in range(7)))
    assert answers == [key * 2 for key in range(7)]
    assert recorder.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_failed_batch_fails_every_call_in_it_and_only_those() -> None:
    attempts = 0

    async def fail_once(keys: list[int]) -> list[int]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("database gone")
        return list(keys)

    coalesced = Coalesced(fail_once)
    results = await asyncio.gather(coalesced.call(1), coalesced.call(2), return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError, ConnectionError]
    assert await coalesced.call(3) == 3


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalesced = Coalesced(recorder.answer)
    leaving = asyncio.ensure_future(coalesced.call(1))
    staying = asyncio.ensure_future(coalesced.call(2))
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.release.set()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_an_answer_of_the_wrong_length_is_a_bug_not_a_silent_mismatch() -> None:
    async def short(keys: list[int]) -> list[int]:
        return keys[:-1]

    coalesced = Coalesced(short)
    with pytest.raises(RuntimeError, match="2 answers for 3 calls"):
        await asyncio.gather(coalesced.call(1), coalesced.call(2), coalesced.call(3))
