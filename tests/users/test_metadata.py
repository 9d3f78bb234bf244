"""`user_metadata`, the account's own JSON object, and `app_metadata`, which only the host
application writes: shown on the user, replaced whole, bounded, on every backend."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.errors import InvalidMetadata, NotFound
from fastapi_auth.users.schemas import APP_METADATA_MAX_BYTES, USER_METADATA_MAX_BYTES
from fastapi_auth.users.service import UserService
from tests.mailbox import Mailbox
from tests.support import Account, database_of, logged_in, stored_user


async def patch(client: httpx.AsyncClient, account: Account, body: Any) -> httpx.Response:
    return await client.patch("/users/me", json=body, headers=account.headers)


async def me(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get("/users/me", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_refused(response: httpx.Response, field: str, case: object = "") -> None:
    assert response.status_code == 422, (case, response.text)
    assert any(error["loc"] == ["body", field] for error in response.json()["detail"]), case


def compact_size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def metadata_of_size(size: int, char: str = "x") -> dict[str, Any]:
    """An object whose compact UTF-8 JSON is exactly `size` bytes: `char` repeated, then
    ASCII for what a whole `char` would overrun."""
    room = size - compact_size({"k": ""})
    count, rest = divmod(room, len(char.encode()))
    value = {"k": char * count + "x" * rest}
    assert compact_size(value) == size
    return value


async def set_app_metadata(app: FastAPI, email: str, metadata: Any) -> dict[str, Any]:
    """What the host application does in its own code, in a transaction of its own."""
    user = await stored_user(app, email)
    async with database_of(app).transaction() as session:
        service = components_of(app).build(UserService, session)
        updated = await service.set_app_metadata(user.id, metadata)
        return updated.app_metadata


async def test_a_new_account_has_empty_objects_in_the_contracts_order(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    user = await me(client, account)
    assert user["user_metadata"] == {}
    assert user["app_metadata"] == {}
    fields = list(user)
    at = fields.index("pending_email")
    assert fields[at + 1 : at + 5] == ["mfa_enabled", "user_metadata", "app_metadata", "created_at"]


async def test_user_metadata_is_set_read_back_and_replaced_whole(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox, full_name="Ada")
    first = {
        "theme": "dark",
        "onboarding": {"done": True, "steps": [1, 2, {"three": None}]},
        "score": 1.5,
        "big": 123456789012345678901234567890,
    }
    updated = await patch(client, account, {"user_metadata": first})
    assert updated.status_code == 200, updated.text
    assert updated.json()["user_metadata"] == first
    assert (await me(client, account))["user_metadata"] == first

    second = {"language": "fa"}
    replaced = await patch(client, account, {"user_metadata": second})
    assert replaced.json()["user_metadata"] == second
    user = await me(client, account)
    assert user["user_metadata"] == second
    assert user["full_name"] == "Ada"

    untouched = await patch(client, account, {"full_name": "Ada Lovelace"})
    assert untouched.json()["user_metadata"] == second

    emptied = await patch(client, account, {"user_metadata": {}})
    assert emptied.json()["user_metadata"] == {}
    assert (await me(client, account))["user_metadata"] == {}


async def test_unicode_and_deep_nesting_survive_the_round_trip(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    nested: Any = {"leaf": "end"}
    for level in range(30):
        nested = {f"level-{level}": [nested]} if level % 2 else {f"level-{level}": nested}
    metadata = {
        "نام": "آدا لاولیس",
        "emoji": "🔐✨",
        "中文": ["一", "二"],
        "escapes": 'quote " backslash \\ tab \t newline \n',
        "nested": nested,
    }
    assert compact_size(metadata) <= USER_METADATA_MAX_BYTES
    response = await patch(client, account, {"user_metadata": metadata})
    assert response.status_code == 200, response.text
    assert (await me(client, account))["user_metadata"] == metadata


async def test_the_4_kb_boundary_counts_utf8_bytes_of_compact_json(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    exactly = metadata_of_size(USER_METADATA_MAX_BYTES)
    accepted = await patch(client, account, {"user_metadata": exactly})
    assert accepted.status_code == 200, accepted.text
    assert (await me(client, account))["user_metadata"] == exactly

    over = metadata_of_size(USER_METADATA_MAX_BYTES + 1)
    assert_refused(await patch(client, account, {"user_metadata": over}), "user_metadata")

    # Three bytes a character in UTF-8, one in the count of characters: bytes decide.
    wide = metadata_of_size(USER_METADATA_MAX_BYTES, "€")
    assert len(json.dumps(wide, ensure_ascii=False, separators=(",", ":"))) < 1400
    assert (await patch(client, account, {"user_metadata": wide})).status_code == 200
    wider = {"k": wide["k"] + "x"}
    assert_refused(await patch(client, account, {"user_metadata": wider}), "user_metadata")

    assert (await me(client, account))["user_metadata"] == wide


NOT_OBJECTS: tuple[Any, ...] = (None, [], [{"a": 1}], "text", 1, 1.5, True)


async def test_anything_but_an_object_is_422(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await logged_in(client, mailbox)
    await patch(client, account, {"user_metadata": {"kept": True}})
    for value in NOT_OBJECTS:
        assert_refused(await patch(client, account, {"user_metadata": value}), "user_metadata")
    assert (await me(client, account))["user_metadata"] == {"kept": True}


UNSTORABLE = (
    '{"user_metadata": {"k": "nul \\u0000 inside"}}',
    '{"user_metadata": {"nul \\u0000 key": 1}}',
    '{"user_metadata": {"k": "lone \\ud800 surrogate"}}',
    '{"user_metadata": {"k": NaN}}',
    '{"user_metadata": {"k": [Infinity]}}',
    '{"user_metadata": {"k": 1e400}}',
    '{"user_metadata": {"k": ' + "[" * 100 + "]" * 100 + "}}",
)
TOO_DEEP_TO_PARSE = '{"user_metadata": {"k": ' + "[" * 2000 + "]" * 2000 + "}}"


async def test_what_no_backend_can_store_is_422_not_500(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Python's JSON parser lets NaN, infinities and lone surrogates in, and PostgreSQL's
    JSONB refuses NUL: each is refused before it reaches the database."""
    account = await logged_in(client, mailbox)
    headers = {**account.headers, "Content-Type": "application/json"}
    for body in UNSTORABLE:
        response = await client.patch("/users/me", content=body, headers=headers)
        assert response.status_code == 422, (body[:60], response.text)
    unparsed = await client.patch("/users/me", content=TOO_DEEP_TO_PARSE, headers=headers)
    assert unparsed.status_code == 400, unparsed.text
    assert (await me(client, account))["user_metadata"] == {}


async def test_app_metadata_in_the_patch_is_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    await set_app_metadata(app, account.email, {"plan": "free"})
    bodies: tuple[dict[str, Any], ...] = (
        {"app_metadata": {"plan": "enterprise"}},
        {"app_metadata": {}},
        {"app_metadata": None},
        {"user_metadata": {"plan": "enterprise"}, "app_metadata": {"plan": "enterprise"}},
    )
    for body in bodies:
        assert_refused(await patch(client, account, body), "app_metadata", body)
    user = await me(client, account)
    assert user["app_metadata"] == {"plan": "free"}
    assert user["user_metadata"] == {}


async def test_the_host_sets_app_metadata_in_code_and_the_user_sees_it(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    await patch(client, account, {"user_metadata": {"theme": "dark"}})
    metadata = {"plan": "pro", "tenant": str(uuid.uuid4()), "limits": {"seats": 5}, "名": "値"}
    assert await set_app_metadata(app, account.email, metadata) == metadata
    user = await me(client, account)
    assert user["app_metadata"] == metadata
    assert user["user_metadata"] == {"theme": "dark"}

    assert await set_app_metadata(app, account.email, {"plan": "free"}) == {"plan": "free"}
    assert (await me(client, account))["app_metadata"] == {"plan": "free"}

    # The user's own change leaves it as the host set it.
    changed = await patch(client, account, {"user_metadata": {}})
    assert changed.json()["app_metadata"] == {"plan": "free"}


async def test_app_metadata_is_bounded_at_16_kb_and_must_be_an_object(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    exactly = metadata_of_size(APP_METADATA_MAX_BYTES)
    assert await set_app_metadata(app, account.email, exactly) == exactly
    refused: tuple[Any, ...] = (
        metadata_of_size(APP_METADATA_MAX_BYTES + 1),
        [],
        None,
        "plan",
        {"k": float("nan")},
        {"k": "\x00"},
        {"k": object()},
        {1: "not a string key"},
    )
    for value in refused:
        with pytest.raises(InvalidMetadata):
            await set_app_metadata(app, account.email, value)
    assert (await me(client, account))["app_metadata"] == exactly


async def test_app_metadata_for_an_unknown_account_is_not_found(app: FastAPI) -> None:
    async with database_of(app).transaction() as session:
        service = components_of(app).build(UserService, session)
        with pytest.raises(NotFound):
            await service.set_app_metadata(uuid.uuid4(), {"plan": "pro"})
