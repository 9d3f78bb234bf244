"""Codes and `mfa_token`s no client should send: huge, empty, odd Unicode, look-alike
digits. Each is a plain refusal (401/400/422), never a 500, never a pass."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.mailbox import Mailbox
from tests.mfa.conftest import (
    Clock,
    assert_code_refused,
    assert_token_refused,
    mfa_account,
    mfa_token,
    second_step,
)

ARABIC_INDIC = "\u0661\u0662\u0663\u0664\u0665\u0666"
FULLWIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16"


def to_digits(code: str, zero: int) -> str:
    """`code`'s digits in another script whose zero is the code point `zero`."""
    return "".join(chr(zero + int(digit)) for digit in code)


def raw(mfa_token: str, code: str) -> bytes:
    """JSON escaped by hand, so a lone surrogate reaches the server as sent."""
    return f'{{"mfa_token": "{mfa_token}", "code": "{code}"}}'.encode()


async def post_raw(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(
        "/auth/login/mfa", content=body, headers={"Content-Type": "application/json"}
    )


async def test_the_right_code_in_other_scripts_digits_is_refused(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    right = mfa.fresh_code()
    token = await mfa_token(client, mfa.account)
    for zero in (0x0660, 0xFF10):  # Arabic-Indic, fullwidth
        assert_code_refused(await second_step(client, token, to_digits(right, zero)))
    for odd in (ARABIC_INDIC, FULLWIDTH, f"{right[:3]} {right[3:]}"):
        assert_code_refused(await second_step(client, token, odd))
    assert_token_refused(await second_step(client, token, right))


async def test_the_right_code_with_surrounding_whitespace_is_accepted(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    done = await second_step(
        client, await mfa_token(client, mfa.account), f"  {mfa.fresh_code()}\n"
    )
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    "code",
    ["", "1" * 65, "9" * 5000],
    ids=["empty", "over-64", "huge"],
)
async def test_empty_and_huge_codes_are_422(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock, code: str
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    answer = await second_step(client, token, code)
    assert answer.status_code == 422, answer.text
    # nothing was counted against the token
    for _ in range(4):
        assert_code_refused(
            await second_step(client, token, "000000" if mfa.code(1) != "000000" else "999999")
        )
    assert (await second_step(client, token, mfa.fresh_code())).status_code == 200


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (r"\ud800", "123456"),
        ("x", r"\ud800"),
        ("x", r"12\u00003456"),
        (r"a\u0000b", "123456"),
        ("\u202e" + "x" * 40, "123456"),
        ("x" * 257, "123456"),
    ],
    ids=["surrogate-token", "surrogate-code", "nul-code", "nul-token", "rtl-token", "long-token"],
)
async def test_odd_tokens_and_codes_are_refused_without_a_500(
    client: httpx.AsyncClient, token: str, code: str
) -> None:
    answer = await post_raw(client, raw(token, code))
    assert answer.status_code in {401, 422}, answer.text
    assert answer.content.decode("utf-8")


async def test_an_odd_code_on_a_live_token_is_a_wrong_code(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    for code in (r"\ud800\udc00x", r"\ud83d", "null", "1e5", "0x1234"):
        answer = await post_raw(client, raw(token, code))
        assert answer.status_code in {401, 422}, answer.text
        if answer.status_code == 401:
            assert answer.json()["code"] == "INVALID_MFA_CODE"


@pytest.mark.parametrize(
    "body",
    [
        {"mfa_token": "x", "code": 123456},
        {"mfa_token": "x", "code": ["123456"]},
        {"mfa_token": "x"},
        {"code": "123456"},
        {"mfa_token": None, "code": "123456"},
        {"mfa_token": "x", "code": "123456", "extra": 1},
    ],
    ids=["int-code", "list-code", "no-code", "no-token", "null-token", "extra-field"],
)
async def test_malformed_bodies_are_422(client: httpx.AsyncClient, body: object) -> None:
    answer = await client.post(
        "/auth/login/mfa", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text


async def test_odd_codes_on_the_signed_in_routes_are_refused(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    for path in ("/users/me/mfa/totp/disable", "/users/me/mfa/recovery-codes"):
        for code in (to_digits(mfa.code(1), 0x0660), r"\ud800"):
            body = f'{{"password": "{mfa.account.password}", "code": "{code}"}}'.encode()
            answer = await client.post(
                path,
                content=body,
                headers={**mfa.headers, "Content-Type": "application/json"},
            )
            assert answer.status_code in {400, 422}, (path, answer.text)
            if answer.status_code == 400:
                assert answer.json()["code"] == "INVALID_MFA_CODE"
    confirm = await client.post(
        "/users/me/mfa/totp/confirm",
        content=b'{"code": "\\ud800"}',
        headers={**mfa.headers, "Content-Type": "application/json"},
    )
    assert confirm.status_code in {400, 422}, confirm.text
