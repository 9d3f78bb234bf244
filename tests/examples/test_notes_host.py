"""Mounted into the notes app, the package changes only its own routes: the host's
uploads, headers, errors, database errors and static files stay the host's, while every
auth route still answers as the contract says."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import http_client
from tests.examples.conftest import HookCalls
from tests.mailbox import Mailbox
from tests.support import PASSWORD, logged_in, register, reset_link

OUR_CSP = "default-src 'none'"


@pytest.fixture
async def host(notes_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(notes_app) as client:
        yield client


# -- the host's own routes, untouched -----------------------------------------------------


async def test_a_large_upload_to_the_host_is_the_hosts_to_judge(host: httpx.AsyncClient) -> None:
    """The package caps bodies at 64 KiB: on its own routes only."""
    upload = await host.post("/uploads", files={"file": ("a.bin", b"x" * 200_000)})
    assert upload.status_code == 200, upload.text
    assert upload.json() == {"size": 200_000}


async def test_the_hosts_pages_get_none_of_the_packages_headers(host: httpx.AsyncClient) -> None:
    page = await host.get("/")
    assert page.status_code == 200
    assert "Content-Security-Policy" not in page.headers
    assert "Cache-Control" not in page.headers
    assert "X-Frame-Options" not in page.headers
    script = await host.get("/static/notes.js")
    assert script.status_code == 200
    assert "notes" in script.text


async def test_the_hosts_errors_keep_the_hosts_shape(
    host: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    missing = await host.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    account = await logged_in(host, mailbox)
    no_note = await host.get("/notes/999999", headers=account.headers)
    assert no_note.status_code == 404
    assert no_note.json() == {"detail": "No such note"}
    invalid = await host.post("/notes", json={"text": ""}, headers=account.headers)
    assert invalid.status_code == 422
    [error] = invalid.json()["detail"]
    assert error["input"] == "", "FastAPI's own 422, which echoes the input"
    assert "code" not in invalid.json()
    wrong_method = await host.put("/notes")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}


async def test_a_bug_in_the_hosts_database_use_is_not_called_an_outage(
    notes_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async with http_client(notes_app, raise_app_exceptions=False) as client:
        with caplog.at_level(logging.WARNING, logger="fastapi_auth"):
            answer = await client.get("/report")
    assert answer.status_code == 500
    assert "database unavailable" not in caplog.text


async def test_the_host_route_protected_by_current_user(
    host: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    anonymous = await host.get("/notes")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "NOT_AUTHENTICATED"
    account = await logged_in(host, mailbox)
    created = await host.post("/notes", json={"text": "buy milk"}, headers=account.headers)
    assert created.status_code == 201, created.text
    mine = await host.get("/notes", headers=account.headers)
    assert [note["text"] for note in mine.json()] == ["buy milk"]
    other = await logged_in(host, mailbox)
    assert (await host.get("/notes", headers=other.headers)).json() == []


async def test_the_hosts_lifespan_still_runs(notes_app: FastAPI) -> None:
    assert notes_app.state.started is True
    assert notes_app.state.notes_engine is not None


# -- the package's routes, as the contract says --------------------------------------------


async def test_the_packages_routes_keep_their_headers_cap_and_errors(
    host: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(host, mailbox)
    me = await host.get("/users/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["email"] == account.email
    assert me.headers["Cache-Control"] == "no-store"
    assert me.headers["X-Frame-Options"] == "DENY"
    too_big = await host.post("/auth/register", content=b"x" * 70_000)
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert too_big.headers["X-Content-Type-Options"] == "nosniff"
    secret = "a password never echoed"
    invalid = await host.post("/auth/login", json={"email": "not-an-email", "password": secret})
    assert invalid.status_code == 422
    assert secret not in invalid.text
    wrong = await host.post("/auth/login", json={"email": account.email, "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"
    assert wrong.headers["Cache-Control"] == "no-store"


async def test_the_packages_pages_and_files_live_under_its_own_prefix(
    host: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """The host's `/static` does not shadow the reset page's script, and the page's form
    posts the password in the body, to the package's own route."""
    account = await logged_in(host, mailbox)
    token = await reset_link(host, mailbox, account.email)
    page = await host.get("/reset-password", params={"token": token})
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith(OUR_CSP)
    assert re.search(
        r'<form id="reset-form" method="post" action="/auth/reset-password">', page.text
    )
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert scripts
    assert styles
    for asset in (*scripts, *styles):
        assert not asset.startswith("/static/")
        fetched = await host.get(asset)
        assert fetched.status_code == 200, asset
        assert "Cache-Control" not in fetched.headers, "the package's files may be cached"
        assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    posted = await host.post(
        "/auth/reset-password",
        data={
            "token": token,
            "new_password": "a new passphrase",
            "confirm_password": "a new passphrase",
        },
    )
    assert posted.status_code == 200
    assert "a new passphrase" not in str(posted.request.url)


async def test_a_hook_sees_each_committed_account_event(
    host: httpx.AsyncClient, mailbox: Mailbox, hook_calls: HookCalls
) -> None:
    account = await logged_in(host, mailbox)
    await hook_calls.hooks.wait()
    kinds = [event.type.value for event in hook_calls.events if event.email == account.email]
    assert kinds == ["registered", "email_verified", "login_succeeded"]
    refused = await register(host, account.email, PASSWORD)
    assert refused.status_code == 202
    await hook_calls.hooks.wait()
    again = [event.type.value for event in hook_calls.events if event.email == account.email]
    assert again == kinds, "a registration for a taken address announces nothing"
