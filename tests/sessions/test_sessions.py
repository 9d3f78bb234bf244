"""Sessions through HTTP: listing devices, ending one, ending them all, and the schema."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from fastapi_auth.kernel.models import AuthSession, utcnow
from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    current_session_id,
    database_of,
    logged_in,
    login_device,
    refresh,
    register_verified,
)


async def list_sessions(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/users/me/sessions", headers=account.headers)
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()
    return sessions


def moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, f"{value} has no UTC offset"
    return parsed


async def assert_session_dead(client: httpx.AsyncClient, account: Account) -> None:
    """Both halves of the session are refused: its access token and its refresh token."""
    me = await client.get("/users/me", headers=account.headers)
    assert me.status_code == 401, me.text
    assert me.json()["code"] == "INVALID_TOKEN"
    assert me.headers["WWW-Authenticate"] == "Bearer"
    refreshed = await client.post("/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 401, refreshed.text
    assert refreshed.json()["code"] == "INVALID_TOKEN"


async def assert_session_alive(client: httpx.AsyncClient, account: Account) -> None:
    me = await client.get("/users/me", headers=account.headers)
    assert me.status_code == 200, me.text


async def test_lists_each_device_and_marks_the_callers_session(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    laptop = await login_device(client, account, "Laptop Firefox/128")
    phone = await login_device(client, account, "Phone Safari/17")

    from_laptop = await list_sessions(client, laptop)
    from_phone = await list_sessions(client, phone)

    # Most recently used first.
    assert [item["user_agent"] for item in from_laptop] == ["Phone Safari/17", "Laptop Firefox/128"]
    assert [item["user_agent"] for item in from_laptop if item["current"]] == ["Laptop Firefox/128"]
    assert [item["user_agent"] for item in from_phone if item["current"]] == ["Phone Safari/17"]
    assert {item["id"] for item in from_laptop} == {item["id"] for item in from_phone}
    for item in from_laptop:
        assert set(item) == {
            "id",
            "user_agent",
            "ip_address",
            "created_at",
            "last_used_at",
            "expires_at",
            "current",
        }
        uuid.UUID(item["id"])
        assert item["ip_address"] == "127.0.0.1"
        created = moment(item["created_at"])
        assert moment(item["last_used_at"]) == created
        assert moment(item["expires_at"]) - created == timedelta(days=30)


async def test_ended_and_expired_sessions_are_not_listed(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    laptop = await login_device(client, account, "laptop")
    phone = await login_device(client, account, "phone")
    tablet = await login_device(client, account, "tablet")
    logout = await client.post(
        "/users/logout", json={"refresh_token": phone.refresh_token}, headers=phone.headers
    )
    assert logout.status_code == 204
    tablet_id = uuid.UUID(await current_session_id(client, tablet))
    async with database_of(app).transaction() as session:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == tablet_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert [item["user_agent"] for item in await list_sessions(client, laptop)] == ["laptop"]
    await assert_session_dead(client, tablet)


async def test_refresh_moves_last_used_forward_in_the_same_session(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    [before] = await list_sessions(client, account)
    response = await client.post("/auth/refresh", json={"refresh_token": account.refresh_token})
    assert response.status_code == 200, response.text
    account.access_token = response.json()["access_token"]
    [after] = await list_sessions(client, account)
    assert after["id"] == before["id"]
    assert after["current"] is True
    assert after["created_at"] == before["created_at"]
    assert moment(after["last_used_at"]) > moment(before["last_used_at"])


async def test_ending_another_session_kills_its_tokens_at_once_and_only_its_own(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    laptop = await login_device(client, account, "laptop")
    phone = await login_device(client, account, "phone")
    phone_id = await current_session_id(client, phone)

    response = await client.delete(f"/users/me/sessions/{phone_id}", headers=laptop.headers)

    assert response.status_code == 204
    assert response.content == b""
    await assert_session_dead(client, phone)
    await assert_session_alive(client, laptop)
    assert [item["id"] for item in await list_sessions(client, laptop)] == [
        await current_session_id(client, laptop)
    ]
    again = await client.delete(f"/users/me/sessions/{phone_id}", headers=laptop.headers)
    assert again.status_code == 404
    assert again.json()["code"] == "NOT_FOUND"
    rotated = await client.post("/auth/refresh", json={"refresh_token": laptop.refresh_token})
    assert rotated.status_code == 200, rotated.text


async def test_ending_ones_own_current_session_is_a_logout(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    own_id = await current_session_id(client, account)
    response = await client.delete(f"/users/me/sessions/{own_id}", headers=account.headers)
    assert response.status_code == 204
    await assert_session_dead(client, account)


async def test_someone_elses_session_is_indistinguishable_from_a_missing_one(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner = await logged_in(client, mailbox)
    prober = await logged_in(client, mailbox)
    owners_session = await current_session_id(client, owner)

    theirs = await client.delete(f"/users/me/sessions/{owners_session}", headers=prober.headers)
    missing = await client.delete(f"/users/me/sessions/{uuid.uuid4()}", headers=prober.headers)

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert theirs.json()["code"] == "NOT_FOUND"
    await assert_session_alive(client, owner)


async def test_a_session_id_that_is_not_a_uuid_is_422(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    response = await client.delete("/users/me/sessions/not-a-uuid", headers=account.headers)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["path", "session_id"]


async def test_session_routes_need_an_access_token(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/users/me/sessions"),
        await client.delete(f"/users/me/sessions/{uuid.uuid4()}"),
        await client.post("/users/logout-all"),
    ]
    for response in answers:
        assert response.status_code == 401, response.request.url
        assert response.json()["code"] == "NOT_AUTHENTICATED"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_logout_all_ends_every_session_including_the_callers(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    devices = [await login_device(client, account, name) for name in ("a", "b", "c")]
    response = await client.post("/users/logout-all", headers=devices[0].headers)
    assert response.status_code == 204
    for device in devices:
        await assert_session_dead(client, device)


async def test_logout_all_can_keep_the_current_session(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    keeper, *others = [await login_device(client, account, name) for name in ("a", "b", "c")]
    response = await client.post(
        "/users/logout-all", json={"keep_current": True}, headers=keeper.headers
    )
    assert response.status_code == 204
    for device in others:
        await assert_session_dead(client, device)
    await assert_session_alive(client, keeper)
    assert [item["user_agent"] for item in await list_sessions(client, keeper)] == ["a"]


async def test_logout_all_refuses_a_keep_current_that_is_not_a_boolean(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    response = await client.post(
        "/users/logout-all", json={"keep_current": "yes"}, headers=account.headers
    )
    assert response.status_code == 422
    await assert_session_alive(client, account)


AUTHENTICATION = {
    "401": {"NOT_AUTHENTICATED", "INVALID_TOKEN"},
    "403": {"ACCOUNT_DISABLED"},
    "503": {"SERVICE_UNAVAILABLE"},
}
ISSUE_ROUTES: dict[tuple[str, str], dict[str, set[str]]] = {
    ("/users/me/sessions", "get"): AUTHENTICATION,
    ("/users/me/sessions/{session_id}", "delete"): {
        **AUTHENTICATION,
        "404": {"NOT_FOUND"},
        "422": set(),
    },
    ("/users/logout-all", "post"): {
        **AUTHENTICATION,
        "422": set(),
    },
    ("/users/me", "delete"): {
        "400": {"INVALID_PASSWORD"},
        **AUTHENTICATION,
        "422": set(),
    },
    ("/users/me/security-events", "get"): {
        "400": {"INVALID_CURSOR"},
        **AUTHENTICATION,
        "422": set(),
    },
}


async def test_the_schema_lists_these_routes_with_their_error_codes(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for (path, method), errors in ISSUE_ROUTES.items():
        operation = paths[path][method]
        responses = operation["responses"]
        success = "200" if method == "get" else "204"
        assert success in responses, (path, method)
        assert operation["security"], (path, method)
        for status, codes in errors.items():
            assert status in responses, (path, method, status)
            for code in codes:
                assert f"`{code}`" in responses[status]["description"], (path, method, code)
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "security log" in paths["/users/me"]["delete"]["description"]
    listed = paths["/users/me/sessions"]["get"]["responses"]["200"]["content"]
    assert listed["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/SessionRead"
    }


async def test_a_login_beyond_the_cap_ends_the_least_recently_used(
    make_app: AppFactory, mailbox: Mailbox
) -> None:
    app = await make_app(max_sessions_per_user=3)
    async with http_client(app) as client:
        account = await register_verified(client, mailbox)
        devices = [await login_device(client, account, f"device {index}") for index in range(5)]
        listed = await client.get("/users/me/sessions", headers=devices[-1].headers)
        assert [item["user_agent"] for item in listed.json()] == [
            "device 4",
            "device 3",
            "device 2",
        ]
        for ended in devices[:2]:
            assert (await client.get("/users/me", headers=ended.headers)).status_code == 401
        for kept in devices[2:]:
            assert (await client.get("/users/me", headers=kept.headers)).status_code == 200


async def test_a_long_sessions_list_is_paged_through_its_link_header(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    devices = [await login_device(client, account, f"device {index}") for index in range(7)]
    reader = devices[0]
    seen: list[list[str]] = []
    url: str | None = "/users/me/sessions?limit=3"
    while url is not None:
        page = await client.get(url, headers=reader.headers)
        assert page.status_code == 200, page.text
        seen.append([item["user_agent"] for item in page.json()])
        link = page.headers.get("Link")
        url = link.split(";")[0].strip("<>") if link else None
        assert link is None or link.endswith('rel="next"')
    assert [len(items) for items in seen] == [3, 3, 1]
    assert [agent for items in seen for agent in items] == [f"device {i}" for i in range(6, -1, -1)]
    whole = (await client.get("/users/me/sessions", headers=reader.headers)).json()
    assert len(whole) == 7
    assert "Link" not in (await client.get("/users/me/sessions", headers=reader.headers)).headers
    assert [item["current"] for item in whole].count(True) == 1
    bad = await client.get("/users/me/sessions", params={"cursor": "nope"}, headers=reader.headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_CURSOR"


async def test_paging_sees_every_session_once_while_they_are_used(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A session used (refreshed) between two pages keeps its place in the list."""
    account = await register_verified(client, mailbox)
    devices = [await login_device(client, account, f"device {index}") for index in range(12)]
    reader = devices[-1]
    first = await client.get("/users/me/sessions?limit=5", headers=reader.headers)
    seen = [item["id"] for item in first.json()]
    assert (await refresh(client, devices[0].refresh_token)).status_code == 200
    link = first.headers.get("Link")
    while link:
        page = await client.get(link.split(";")[0].strip("<>"), headers=reader.headers)
        seen += [item["id"] for item in page.json()]
        link = page.headers.get("Link")
    assert len(seen) == len(set(seen)) == 12
