"""Hooks: the host's own code, run after an account event has committed.

Every domain announces its events in the transaction that makes them
(`security_log.announce`: `record_event` does it for each event it logs, the
registration flow for a registration); `Database.transaction` hands them to `Hooks`
once that transaction has committed, and drops them if it rolled back. So a hook never
sees a change that did not happen, and nothing a hook does (or fails to do) changes the
request: hooks run in a task of their own after the request's commit, one event after
another, and a hook that raises is logged and skipped.

    hooks = Hooks()

    @hooks.on(SecurityEventType.REGISTERED)
    async def tell_sales(event: AccountEvent) -> None:
        await crm.add_lead(event.email)

    mount(app, settings, hooks=hooks)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from fastapi_auth.kernel.security_log import AccountEvent, SecurityEventType

logger = logging.getLogger("fastapi_auth.hooks")


Hook = Callable[[AccountEvent], Awaitable[None]]


class Hooks:
    """The host's hooks by event type; `on()` with no type is every event."""

    def __init__(self) -> None:
        self._hooks: list[tuple[frozenset[SecurityEventType] | None, Hook]] = []
        self._running: set[asyncio.Task[None]] = set()

    def on(self, *event_types: SecurityEventType) -> Callable[[Hook], Hook]:
        wanted = frozenset(event_types) or None

        def register(hook: Hook) -> Hook:
            self._hooks.append((wanted, hook))
            return hook

        return register

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def deliver(self, events: Sequence[object]) -> None:
        """Called by `Database.transaction` after a commit: starts, and does not wait for,
        the task that runs the hooks."""
        if not self._hooks:
            return
        task = asyncio.get_running_loop().create_task(self._run([*events]))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, events: list[object]) -> None:
        for event in events:
            assert isinstance(event, AccountEvent)
            for wanted, hook in self._hooks:
                if wanted is not None and event.type not in wanted:
                    continue
                try:
                    await hook(event)
                except Exception:
                    logger.exception("the hook %s failed for a %s event", _name(hook), event.type)
                except asyncio.CancelledError:
                    # This task cancelled (a shutdown that would not wait): stop. A hook's
                    # own awaited call cancelled is that hook failing, like any other.
                    current = asyncio.current_task()
                    if current is None or current.cancelling():
                        raise
                    logger.exception(
                        "the hook %s was cancelled for a %s event", _name(hook), event.type
                    )

    async def wait(self) -> None:
        """Until every hook started so far has finished (at shutdown; in tests)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


def _name(hook: Hook) -> str:
    return getattr(hook, "__qualname__", repr(hook))
