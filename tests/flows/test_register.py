"""POST /auth/register: one answer for everyone, the right email for each case."""

from __future__ import annotations

import asyncio

import httpx

from tests.mailbox import Mailbox
from tests.support import PASSWORD, register, register_verified, unique_email

ACCEPTED = 202


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_new_address_gets_a_verification_email_without_the_registrants_words(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """The address is not proven yet, so nothing the registrant chose reaches it."""
    email = unique_email()
    words = "Claim your prize at evil.example"
    response = await register(client, email, full_name=words)
    assert response.status_code == ACCEPTED
    message = await mailbox.last(email, "Verify")
    assert "/auth/verify-email?token=" in message.link
    assert words not in message.text
    assert words not in message.html
    assert "registered more than once" not in message.text


async def test_registration_hands_out_no_tokens(client: httpx.AsyncClient) -> None:
    response = await register(client, unique_email())
    assert set(response.json()) == {"detail"}


async def test_unverified_account_cannot_log_in(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email()
    await register(client, email)
    await mailbox.last(email, "Verify")
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["code"] == "EMAIL_NOT_VERIFIED"


async def test_known_address_gets_the_same_answer_and_a_notice(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    fresh = await register(client, unique_email())
    again = await register(client, account.email, password="another fine password")
    assert again.status_code == fresh.status_code == ACCEPTED
    assert again.json() == fresh.json()
    notice = await mailbox.last(account.email, "tried to register")
    assert "/reset-password?token=" in notice.link


async def test_each_registration_link_activates_its_own_password(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A second registration of an unverified address gets a link of its own, and the
    first link still activates the first password; once one is verified, the others die."""
    email = unique_email()
    await register(client, email)
    first = await mailbox.last(email, "Verify")
    await register(client, email, password="a different passphrase")
    second = (await mailbox.wait_for(email, "Verify", count=2))[-1]
    assert second.token != first.token
    assert "registered more than once" in second.text
    activated = await client.post("/auth/verify-email", json={"token": first.token})
    assert activated.status_code == 200, activated.text
    assert (await attempt(client, email, PASSWORD)).status_code == 200
    assert (await attempt(client, email, "a different passphrase")).status_code == 401
    late = await client.post("/auth/verify-email", json={"token": second.token})
    assert late.status_code == 400


async def test_email_case_variants_are_one_account(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Each registration mails the address as it was typed (domain lower-cased); the one
    verified decides the account's spelling, and the other is then void."""
    local = unique_email().split("@")[0]
    await register(client, f"{local.capitalize()}@Example.COM")
    await register(client, f"{local.upper()}@EXAMPLE.com")
    messages = await mailbox.wait_for(f"{local}@example.com", "Verify", count=2)
    assert [m.recipients[0] for m in messages] == [
        f"{local.capitalize()}@example.com",
        f"{local.upper()}@example.com",
    ]
    verified = await client.post("/auth/verify-email", json={"token": messages[1].token})
    assert verified.status_code == 200
    other = await client.post("/auth/verify-email", json={"token": messages[0].token})
    assert other.status_code == 400
    response = await attempt(client, f"{local}@example.com", PASSWORD)
    assert response.status_code == 200


async def test_concurrent_registrations_of_one_address_all_answer_202(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email()
    responses = await asyncio.gather(*(register(client, email) for _ in range(6)))
    assert [r.status_code for r in responses] == [ACCEPTED] * 6
    await mailbox.wait_for(email, "Verify", count=6)


async def test_weak_inputs_are_refused_without_echoing_the_password(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    cases: dict[str, dict[str, object]] = {
        "short": {"email": email, "password": "Zq9!x"},
        "common": {"email": email, "password": "password123"},
        "email": {"email": email, "password": email},
        "long": {"email": email, "password": "Zq9!x" * 26},
        "phone": {"email": email, "password": PASSWORD, "phone_number": "4155552671"},
        "address": {"email": "not-an-email", "password": "a secret phrase here"},
        "unknown field": {"email": email, "password": PASSWORD, "is_verified": True},
    }
    for name, body in cases.items():
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 422, name
        assert isinstance(response.json()["detail"], list), name
        if name not in {"email", "phone", "address", "unknown field"}:
            assert str(body["password"]) not in response.text, name
    leaked = await client.post(
        "/auth/register", json={"email": "bad", "password": "hunter2-secret"}
    )
    assert "hunter2-secret" not in leaked.text


async def test_phone_is_stored_in_e164(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    from tests.support import login

    account = await login(
        client, await register_verified(client, mailbox, phone_number="+14155552671")
    )
    me = await client.get("/users/me", headers=account.headers)
    assert me.json()["phone_number"] == "+14155552671"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def mathematical_bold(text: str) -> str:
    return "".join(
        chr(0x1D41A + ord(char) - ord("a")) if "a" <= char <= "z" else char for char in text
    )


async def test_look_alike_addresses_are_the_same_account(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Fullwidth letters, mathematical bold and a dotless i pass for the address they
    copy: they register nothing new, and they log in to the account they look like."""
    local = f"mimi{unique_email().split('@')[0].replace('-', '')}"
    owner = f"{local}@example.com"
    assert (await register(client, owner)).status_code == ACCEPTED
    await client.post(
        "/auth/verify-email", json={"token": (await mailbox.last(owner, "Verify")).token}
    )
    copies = [
        f"{fullwidth(local)}@example.com",
        f"{mathematical_bold(local)}@example.com",
        f"{local.replace('i', chr(0x131))}@example.com",
    ]
    for copy in copies:
        assert (
            await register(client, copy, password="an impostor's passphrase")
        ).status_code == 202
        logged_in = await attempt(client, copy, PASSWORD)
        assert logged_in.status_code == 200, copy
    notices = await mailbox.wait_for(owner, "tried to register", count=len(copies))
    assert {message.recipients[0] for message in notices} == {owner}
    assert not [m for m in mailbox.received if "Verify" in m.subject and m.recipients[0] in copies]


async def test_a_local_part_mixing_scripts_is_422(client: httpx.AsyncClient) -> None:
    cyrillic_a = "\u0430"
    for address in (f"p{cyrillic_a}ypal@example.com", f"{cyrillic_a}dmin@example.com"):
        response = await register(client, address)
        assert response.status_code == 422, address
        assert "mixes scripts" in response.text
    for address in (
        "\u0438\u0432\u0430\u043d@example.com",
        "\u5c71\u7530\u305f\u308d\u3046@example.jp",
    ):
        assert (await register(client, address)).status_code == ACCEPTED, address
