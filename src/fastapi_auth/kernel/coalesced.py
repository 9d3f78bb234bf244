"""Batching the calls made in one turn of the event loop (the hot path's access check,
SQLite's refresh group commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class Coalesced(Generic[A, R]):
    """Calls made in the same turn of the event loop, run together as one batch.

    Under load many requests reach the same step in one turn (each connection's request
    runs up to its first await before the next turn begins); one query for all of them
    costs the database, the pool and the driver one round trip instead of one each. A
    call joins only a batch that has not been sent yet, so whatever committed before it
    was made is seen, exactly as if it had run alone, and no answer is ever reused. The
    batch answers each call in its place (`run_batch` returns one result per argument,
    in order); a failed batch fails every call in it.
    """

    def __init__(
        self,
        run_batch: Callable[[list[A]], Awaitable[list[R]]],
        max_batch: int = 256,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._waiting: list[tuple[A, asyncio.Future[R]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def call(self, argument: A) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)
        self._waiting.append((argument, future))
        return await future

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self._max_batch):
            task = asyncio.ensure_future(self._answer(waiting[start : start + self._max_batch]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, waiting: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run_batch([argument for argument, _ in waiting])
            if len(results) != len(waiting):
                raise RuntimeError(f"{len(results)} answers for {len(waiting)} calls")
        except BaseException as error:
            for _, future in waiting:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(waiting, results, strict=True):
            if not future.done():
                future.set_result(result)
