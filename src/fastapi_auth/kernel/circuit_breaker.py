"""Failing open, fast: a shared store (Redis) that stops answering is skipped for a while.

Without it a Redis that accepts connections and never answers made every login wait for
each of its calls to time out. After one failure the store is left alone for
`OPEN_SECONDS` (the limits let requests through meanwhile, as they do for any store
failure), then tried again; the log says so once when that starts and once when it
ends, not once a request.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("fastapi_auth.ratelimit")

OPEN_SECONDS = 30.0
TIMEOUT_SECONDS = 0.5
"""Per Redis call, connecting included: a healthy Redis on the same network answers in
well under a millisecond."""


class CircuitBreaker:
    def __init__(self, name: str, open_seconds: float = OPEN_SECONDS) -> None:
        self._name = name
        self._open_seconds = open_seconds
        self._open_until = 0.0
        self._tripped = False

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def failed(self, error: BaseException) -> None:
        self._open_until = time.monotonic() + self._open_seconds
        if not self._tripped:
            self._tripped = True
            logger.error(
                "%s failed (%s); letting requests through without it for %.0f s at a time "
                "until it answers again",
                self._name,
                type(error).__name__,
                self._open_seconds,
            )

    def succeeded(self) -> None:
        if self._tripped:
            self._tripped = False
            logger.warning("%s answers again; limits apply again", self._name)
