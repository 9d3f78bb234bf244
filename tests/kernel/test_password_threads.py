"""Password hashing runs on its own threads, which step back for the event loop."""

from __future__ import annotations

import os
import threading

import pytest

from fastapi_auth.kernel.passwords import HASHING_NICENESS, hashing_threads, off_the_loop


def own_priority() -> tuple[int, int]:
    return threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="threads cannot be reniced here")
async def test_hashing_threads_yield_the_cpu_to_the_event_loop() -> None:
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread_id, priority = await off_the_loop(own_priority)
    assert thread_id != threading.get_native_id()
    assert priority == min(19, loop_priority + HASHING_NICENESS)


def test_one_hashing_thread_per_core() -> None:
    assert hashing_threads()._max_workers == (os.cpu_count() or 1)
