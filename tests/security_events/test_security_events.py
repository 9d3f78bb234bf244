"""The security log: each action writes its one event, in the action's own transaction,
with the client that caused it; one's own log only, newest first, walked with a cursor."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from fastapi_auth.kernel.models import SecurityEvent, utcnow
from tests.mailbox import Mailbox
from tests.support import (
    PASSWORD,
    Account,
    current_session_id,
    database_of,
    logged_in,
    login_device,
    register,
    stored_user,
    unique_email,
)

Event = dict[str, Any]
Expected = tuple[str, str, str | None]
"""(event type, user agent of the request that caused it, session id or None)"""


def agent(name: str) -> dict[str, str]:
    return {"User-Agent": name}


async def read_page(
    client: httpx.AsyncClient, account: Account, limit: int, cursor: str | None = None
) -> httpx.Response:
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    return await client.get("/users/me/security-events", params=params, headers=account.headers)


async def walk_pages(client: httpx.AsyncClient, account: Account, limit: int) -> list[list[Event]]:
    pages: list[list[Event]] = []
    cursor: str | None = None
    while True:
        response = await read_page(client, account, limit, cursor)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def all_events(client: httpx.AsyncClient, account: Account) -> list[Event]:
    return [event for page in await walk_pages(client, account, 100) for event in page]


class EventLog:
    """Reads an account's log and hands back only what appeared since the last look."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.seen: set[str] = set()

    async def new(self, reader: Account) -> list[Event]:
        fresh = [
            event for event in await all_events(self.client, reader) if event["id"] not in self.seen
        ]
        self.seen.update(event["id"] for event in fresh)
        return fresh

    async def expect(self, reader: Account, *expected: Expected) -> None:
        """Exactly these events, each once, from the test client's address."""
        fresh = await self.new(reader)
        summary = [
            (event["event_type"], event["user_agent"], event["session_id"]) for event in fresh
        ]
        assert sorted(summary, key=str) == sorted(expected, key=str)
        assert {event["ip_address"] for event in fresh} <= {"127.0.0.1"}


async def test_each_action_writes_its_event_exactly_once(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    log = EventLog(client)
    account = Account(unique_email(), PASSWORD)
    await register(client, account.email)
    verification = await mailbox.last(account.email, "Verify")
    verified = await client.post(
        "/auth/verify-email", json={"token": verification.token}, headers=agent("signup inbox")
    )
    assert verified.status_code == 200
    observer = await login_device(client, account, "observer")
    observer_id = await current_session_id(client, observer)
    await log.expect(
        observer,
        ("email_verified", "signup inbox", None),
        ("login_succeeded", "observer", observer_id),
    )

    failed = await client.post(
        "/auth/login",
        json={"email": account.email, "password": "not the password at all"},
        headers=agent("attacker"),
    )
    assert failed.status_code == 401
    await log.expect(observer, ("login_failed", "attacker", None))

    phone = await login_device(client, account, "phone")
    phone_id = await current_session_id(client, phone)
    await log.expect(observer, ("login_succeeded", "phone", phone_id))
    rotated = await client.post(
        "/auth/refresh", json={"refresh_token": phone.refresh_token}, headers=agent("phone")
    )
    assert rotated.status_code == 200
    await log.expect(observer)
    reused = await client.post(
        "/auth/refresh", json={"refresh_token": phone.refresh_token}, headers=agent("thief")
    )
    assert reused.status_code == 401
    await log.expect(observer, ("refresh_reuse_detected", "thief", phone_id))

    tablet = await login_device(client, account, "tablet")
    tablet_id = await current_session_id(client, tablet)
    await log.expect(observer, ("login_succeeded", "tablet", tablet_id))
    ended = await client.delete(
        f"/users/me/sessions/{tablet_id}", headers={**observer.headers, **agent("observer")}
    )
    assert ended.status_code == 204
    await log.expect(observer, ("session_revoked", "observer", tablet_id))

    laptop = await login_device(client, account, "laptop")
    laptop_id = await current_session_id(client, laptop)
    await log.expect(observer, ("login_succeeded", "laptop", laptop_id))
    logout = await client.post(
        "/users/logout",
        json={"refresh_token": laptop.refresh_token},
        headers={**laptop.headers, **agent("laptop")},
    )
    assert logout.status_code == 204
    await log.expect(observer, ("session_revoked", "laptop", laptop_id))

    others = [await login_device(client, account, name) for name in ("a", "b")]
    other_ids = [await current_session_id(client, other) for other in others]
    await log.expect(
        observer, ("login_succeeded", "a", other_ids[0]), ("login_succeeded", "b", other_ids[1])
    )
    everyone_else = await client.post(
        "/users/logout-all",
        json={"keep_current": True},
        headers={**observer.headers, **agent("observer")},
    )
    assert everyone_else.status_code == 204
    await log.expect(
        observer,
        ("session_revoked", "observer", other_ids[0]),
        ("session_revoked", "observer", other_ids[1]),
    )

    spare = await login_device(client, account, "spare")
    await log.expect(
        observer, ("login_succeeded", "spare", await current_session_id(client, spare))
    )
    new_password = "a brand new passphrase"
    refused = await client.post(
        "/users/change-password",
        json={"current_password": "not the password at all", "new_password": new_password},
        headers={**observer.headers, **agent("observer")},
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_PASSWORD"
    await log.expect(observer, ("password_check_failed", "observer", None))
    changed = await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": new_password},
        headers={**observer.headers, **agent("observer")},
    )
    assert changed.status_code == 200, changed.text
    account.password = new_password
    # Ending the other sessions is a consequence of the change, logged as the change alone.
    await log.expect(observer, ("password_changed", "observer", observer_id))

    new_email = unique_email("moved")
    requested = await client.patch(
        "/users/me",
        json={"email": new_email, "current_password": account.password},
        headers={**observer.headers, **agent("observer")},
    )
    assert requested.status_code == 200, requested.text
    await log.expect(observer, ("email_change_requested", "observer", None))
    confirmation = await mailbox.last(new_email, "Confirm")
    confirmed = await client.post(
        "/auth/verify-email", json={"token": confirmation.token}, headers=agent("new inbox")
    )
    assert confirmed.status_code == 200, confirmed.text
    account.email = new_email
    await log.expect(observer, ("email_change_confirmed", "new inbox", None))

    forgot = await client.post("/auth/forgot-password", json={"email": account.email})
    assert forgot.status_code == 202
    reset_link = await mailbox.last(account.email, "Reset")
    account.password = "the reset passphrase"
    reset = await client.post(
        "/auth/reset-password",
        json={"token": reset_link.token, "new_password": account.password},
        headers=agent("reset page"),
    )
    assert reset.status_code == 200, reset.text
    observer = await login_device(client, account, "observer 2")
    observer_id = await current_session_id(client, observer)
    await log.expect(
        observer,
        ("password_reset", "reset page", None),
        ("login_succeeded", "observer 2", observer_id),
    )

    extra = await login_device(client, account, "extra")
    extra_id = await current_session_id(client, extra)
    await log.expect(observer, ("login_succeeded", "extra", extra_id))
    everyone = await client.post(
        "/users/logout-all", headers={**observer.headers, **agent("observer 2")}
    )
    assert everyone.status_code == 204
    reader = await login_device(client, account, "reader")
    await log.expect(
        reader,
        ("session_revoked", "observer 2", observer_id),
        ("session_revoked", "observer 2", extra_id),
        ("login_succeeded", "reader", await current_session_id(client, reader)),
    )


async def test_deleting_the_account_is_logged_once(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    user_id = (await stored_user(app, account.email)).id
    response = await client.request(
        "DELETE", "/users/me", json={"password": account.password}, headers=account.headers
    )
    assert response.status_code == 204
    async with database_of(app).transaction() as session:
        rows = (
            await session.scalars(
                select(SecurityEvent).where(
                    SecurityEvent.user_id == user_id, SecurityEvent.event_type == "account_deleted"
                )
            )
        ).all()
    [deleted] = rows
    assert deleted.ip_address is None
    assert deleted.user_agent is None


async def test_newest_first_and_the_cursor_walks_every_event_once(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    agents = [f"step {number}" for number in range(6)]
    for name in agents:
        response = await client.patch(
            "/users/me",
            json={"email": unique_email("paging"), "current_password": account.password},
            headers={**account.headers, **agent(name)},
        )
        assert response.status_code == 200, response.text

    whole = await all_events(client, account)
    assert [event["event_type"] for event in whole] == [
        *["email_change_requested"] * len(agents),
        "login_succeeded",
        "email_verified",
    ]
    assert [event["user_agent"] for event in whole[: len(agents)]] == agents[::-1]
    times = [datetime.fromisoformat(event["created_at"]) for event in whole]
    assert all(moment.utcoffset() is not None for moment in times)
    assert times == sorted(times, reverse=True)

    pages = await walk_pages(client, account, 3)
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [event["id"] for page in pages for event in page] == [event["id"] for event in whole]


async def test_the_cursor_walks_events_of_one_instant_once(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Events of one transaction can share a timestamp; the id breaks the tie."""
    account = await logged_in(client, mailbox)
    user_id = (await stored_user(app, account.email)).id
    instant = utcnow()
    async with database_of(app).transaction() as session:
        session.add_all(
            SecurityEvent(user_id=user_id, event_type="session_revoked", created_at=instant)
            for _ in range(5)
        )
    whole = await all_events(client, account)
    assert len(whole) == 7
    for limit in (1, 2, 3):
        pages = await walk_pages(client, account, limit)
        walked = [event["id"] for page in pages for event in page]
        assert walked == [event["id"] for event in whole], limit


async def test_a_forged_cursor_is_400_invalid_cursor(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)

    def encoded(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    forged = [
        "not-a-cursor",
        "!!!",
        encoded("yesterday|" + str(uuid.uuid4())),
        encoded("2024-01-01T00:00:00|" + str(uuid.uuid4())),
        encoded("2024-01-01T00:00:00+00:00|not-a-uuid"),
        encoded("0001-01-01T00:00:00+01:00|" + str(uuid.uuid4())),
        base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(),
    ]
    for cursor in forged:
        response = await read_page(client, account, 5, cursor)
        assert response.status_code == 400, (cursor, response.text)
        assert response.json() == {
            "detail": "The cursor is not one this service returned.",
            "code": "INVALID_CURSOR",
        }
    too_long = await read_page(client, account, 5, "A" * 201)
    assert too_long.status_code == 422
    assert (await read_page(client, account, 0)).status_code == 422
    assert (await read_page(client, account, 101)).status_code == 422


async def test_nobody_reads_anothers_events(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    first = await logged_in(client, mailbox)
    second = await logged_in(client, mailbox)
    failed = await client.post(
        "/auth/login", json={"email": first.email, "password": "not the password at all"}
    )
    assert failed.status_code == 401

    firsts = await all_events(client, first)
    seconds = await all_events(client, second)
    assert [event["event_type"] for event in firsts] == [
        "login_failed",
        "login_succeeded",
        "email_verified",
    ]
    assert [event["event_type"] for event in seconds] == ["login_succeeded", "email_verified"]

    # A cursor from one account's log only positions another's; it opens nothing.
    first_page = (await read_page(client, first, 1)).json()
    borrowed = await read_page(client, second, 100, first_page["next_cursor"])
    assert borrowed.status_code == 200
    seen_ids = {event["id"] for event in borrowed.json()["items"]}
    assert seen_ids <= {event["id"] for event in seconds}
    assert not seen_ids & {event["id"] for event in firsts}
