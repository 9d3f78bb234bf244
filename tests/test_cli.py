"""The `fastapi-auth` command: migrate a fresh database, prune ended sessions in batches,
and serve."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from typer.testing import CliRunner, Result

from fastapi_auth.cli import app as cli
from fastapi_auth.kernel.models import (
    AuthSession,
    Base,
    EmailChange,
    MfaToken,
    RefreshToken,
    Registration,
    User,
    WebauthnChallenge,
    utcnow,
)
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.migrations.config import VERSION_TABLE
from tests.conftest import JWT_SECRET
from tests.mailbox import LINK, free_port
from tests.services import BACKENDS, TestDatabase, create_database, drop_database
from tests.support import HEAD, REVISIONS

SERVE_LIMIT_SECONDS = 60
"""Not a timing assertion: only a guard so that a server that never comes up fails."""


def run_cli(db_url: str, *args: str) -> Result:
    """In process, like cron would run it with DB_URL set. Call it from a worker thread:
    the commands run event loops of their own."""
    result = CliRunner().invoke(cli, list(args), env={"DB_URL": db_url, "JWT_SECRET": JWT_SECRET})
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def sqlite_tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


async def test_db_upgrade_creates_the_tables_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    result = await asyncio.to_thread(run_cli, f"sqlite+aiosqlite:///{path}", "db", "upgrade")
    assert result.output == f"applied {', '.join(REVISIONS)}\n"
    assert sqlite_tables(path) == {*Base.metadata.tables, VERSION_TABLE}


async def test_db_upgrade_and_downgrade_say_what_they_did(
    unmigrated_database: TestDatabase,
) -> None:
    url = unmigrated_database.url
    says = [
        (await asyncio.to_thread(run_cli, url, "db", *args)).output
        for args in (
            ("upgrade", "0001"),
            ("upgrade",),
            ("upgrade",),
            ("downgrade", "0001"),
            ("downgrade", "0001"),
            ("upgrade", "0001"),
            ("upgrade",),
        )
    ]
    assert says == [
        "applied 0001\n",
        f"applied {', '.join(REVISIONS[1:])}\n",
        f"already at head ({HEAD})\n",
        f"reverted {', '.join(REVISIONS[:0:-1])}\n",
        "nothing to revert: already at or below 0001\n",
        "nothing to apply: already at or past 0001\n",
        f"applied {', '.join(REVISIONS[1:])}\n",
    ]


@pytest.fixture(params=BACKENDS)
async def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    """A database of this test's own, so the prune counts are exact."""
    created = await create_database(request.param, tmp_path)
    await asyncio.to_thread(run_cli, created.url, "db", "upgrade")
    yield created
    await drop_database(created)


@contextmanager
def deleted_session_batches(database: TestDatabase) -> Iterator[list[int]]:
    """How many sessions each `DELETE FROM auth_sessions` on `database` removed."""
    batches: list[int] = []

    def record(connection: Any, cursor: Any, statement: str, *_args: Any, **_kwargs: Any) -> None:
        ours = connection.engine.url.render_as_string() == database.url
        if ours and statement.lstrip().upper().startswith("DELETE FROM AUTH_SESSIONS"):
            batches.append(cursor.rowcount)

    event.listen(Engine, "after_cursor_execute", record)
    try:
        yield batches
    finally:
        event.remove(Engine, "after_cursor_execute", record)


def seeded_session(user_id: uuid.UUID, now: datetime, **values: Any) -> AuthSession:
    return AuthSession(
        id=uuid.uuid4(),
        user_id=user_id,
        user_agent="seeded",
        ip_address="127.0.0.1",
        created_at=now - timedelta(days=3),
        last_used_at=now - timedelta(days=3),
        **{"expires_at": now + timedelta(days=27), **values},
    )


async def test_db_prune_deletes_ended_sessions_in_batches_and_keeps_live_ones(
    empty_database: TestDatabase,
) -> None:
    now = utcnow()
    user = User(
        id=uuid.uuid4(),
        email="prune@example.com",
        email_key="prune@example.com",
        password_hash="not-a-real-hash",
        is_verified=True,
    )
    live = [seeded_session(user.id, now) for _ in range(2)]
    recently_revoked = [seeded_session(user.id, now, revoked_at=now - timedelta(hours=1))]
    expired = [
        seeded_session(user.id, now, expires_at=now - timedelta(seconds=1)) for _ in range(3)
    ]
    long_revoked = [
        seeded_session(user.id, now, revoked_at=now - timedelta(days=2)) for _ in range(2)
    ]
    kept = [*live, *recently_revoked]
    kept_ids = [auth_session.id for auth_session in kept]
    engine = create_async_engine(empty_database.url)
    try:
        async with async_sessionmaker(engine)() as session:
            session.add(user)
            await session.flush()
            session.add_all([*kept, *expired, *long_revoked])
            await session.flush()
            for auth_session in [*kept, *expired, *long_revoked]:
                session.add_all(
                    [
                        RefreshToken(
                            session_id=auth_session.id,
                            token_hash=uuid.uuid4().hex * 2,
                            spent_at=now - timedelta(days=1),
                        ),
                        RefreshToken(session_id=auth_session.id, token_hash=uuid.uuid4().hex * 2),
                    ]
                )
            await session.commit()

        with deleted_session_batches(empty_database) as batches:
            first = await asyncio.to_thread(
                run_cli, empty_database.url, "db", "prune", "--batch-size", "2"
            )
        again = await asyncio.to_thread(run_cli, empty_database.url, "db", "prune")

        async with async_sessionmaker(engine)() as session:
            sessions_left = set((await session.scalars(select(AuthSession.id))).all())
            tokens_left = (await session.execute(select(RefreshToken.session_id))).all()
    finally:
        await engine.dispose()

    assert "pruned 5 sessions" in first.output
    assert batches == [2, 2, 1]
    assert "pruned 0 sessions" in again.output
    assert sessions_left == set(kept_ids)
    # Spent tokens of a live session stay: presenting one again must still end the session.
    assert sorted(row.session_id for row in tokens_left) == sorted(kept_ids * 2)


async def test_db_prune_deletes_expired_registrations_and_dead_email_changes(
    empty_database: TestDatabase,
) -> None:
    now = utcnow()
    users = [
        User(
            id=uuid.uuid4(),
            email=f"prune-{index}@example.com",
            email_key=f"prune-{index}@example.com",
            pending_email=f"pending-{index}@example.com",
            password_hash="not-a-real-hash",
            is_verified=True,
        )
        for index in range(2)
    ]
    stale, fresh = users

    def change(user: User, age: timedelta, **values: Any) -> EmailChange:
        return EmailChange(
            user_id=user.id,
            old_email=user.email,
            new_email=str(user.pending_email),
            security_stamp=0,
            created_at=now - age,
            **values,
        )

    kept_changes = [
        change(fresh, timedelta(hours=1)),
        change(fresh, timedelta(days=3), confirmed_at=now - timedelta(days=3)),
    ]
    pruned_changes = [
        change(stale, timedelta(days=2)),
        change(stale, timedelta(days=9), confirmed_at=now - timedelta(days=8)),
        change(stale, timedelta(hours=1), cancelled_at=now),
    ]
    registrations = [
        Registration(
            email=f"waiting-{index}@example.com",
            email_key=f"waiting-{index}@example.com",
            password_hash="not-a-real-hash",
            expires_at=now + offset,
        )
        for index, offset in enumerate((timedelta(hours=1), -timedelta(seconds=1)))
    ]
    engine = create_async_engine(empty_database.url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            session.add_all(users)
            await session.flush()
            session.add_all([*kept_changes, *pruned_changes, *registrations])
            session.add_all(logins_in_flight(stale, now))
            await session.commit()

        result = await asyncio.to_thread(run_cli, empty_database.url, "db", "prune")

        async with async_sessionmaker(engine)() as session:
            changes_left = set((await session.scalars(select(EmailChange.id))).all())
            registrations_left = (await session.scalars(select(Registration.email))).all()
            pending = dict((await session.execute(select(User.id, User.pending_email))).all())
            tokens_left = (await session.scalars(select(MfaToken.token_hash))).all()
            challenges_left = (await session.scalars(select(WebauthnChallenge.purpose))).all()
    finally:
        await engine.dispose()

    assert "3 expired MFA logins and passkey challenges" in result.output
    assert tokens_left == ["live"]
    assert challenges_left == ["login"]

    assert "1 expired registrations, 3 email changes" in result.output
    assert changes_left == {item.id for item in kept_changes}
    assert registrations_left == ["waiting-0@example.com"]
    assert pending == {stale.id: None, fresh.id: fresh.pending_email}


def logins_in_flight(user: User, now: datetime) -> list[Any]:
    """A live `mfa_token` and an expired one with its challenge (gone with it), a live
    usernameless challenge and an expired one: three rows to prune."""
    live, expired = (
        MfaToken(
            id=uuid.uuid4(),
            token_hash=name,
            user_id=user.id,
            security_stamp=0,
            created_at=now,
            expires_at=now + offset,
        )
        for name, offset in (("live", timedelta(minutes=4)), ("expired", -timedelta(seconds=1)))
    )
    challenges = [
        WebauthnChallenge(
            purpose=purpose,
            challenge=b"0" * 32,
            mfa_token_id=token,
            created_at=now,
            expires_at=now + offset,
        )
        for purpose, token, offset in (
            ("mfa", expired.id, timedelta(minutes=4)),
            ("login", None, timedelta(minutes=4)),
            ("login", None, -timedelta(seconds=1)),
        )
    ]
    return [live, expired, *challenges]


def served_environment(**settings: str) -> dict[str, str]:
    """The process environment without any of the service's own settings, plus these."""
    names = {name.upper() for name in Settings.model_fields}
    return {
        **{key: value for key, value in os.environ.items() if key.upper() not in names},
        **settings,
    }


def test_serve_answers_and_keeps_link_tokens_out_of_its_log(tmp_path: Path) -> None:
    """Served on a port of its own with no FRONTEND_URL, the emailed link points at that
    port; the access log names each link's path but never its token."""
    port = free_port()
    environment = served_environment(
        DB_URL=f"sqlite+aiosqlite:///{tmp_path / 'served.db'}", JWT_SECRET=JWT_SECRET
    )
    command = Path(sys.executable).parent / "fastapi-auth"
    log_path = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(command), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            answer = wait_for_health(f"{base}/health/live", server)
            email = f"served-{uuid.uuid4().hex[:8]}@example.com"
            with httpx.Client(base_url=base, timeout=10) as http:
                registered = http.post(
                    "/auth/register", json={"email": email, "password": "a served passphrase"}
                )
                assert registered.status_code == 202
                link = wait_for_link(log_path, email)
                token = link.split("token=", 1)[1]
                for path in ("/auth/verify-email", "/reset-password", "/auth/cancel-email-change"):
                    http.get(path, params={"token": token})
                huge = http.get("/health/live", headers={"X-Padding": "h" * 200_000})
                assert huge.status_code == 431
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    output = log_path.read_text()
    assert answer is not None, output
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert link.startswith(f"http://localhost:{port}/auth/verify-email?token="), link
    tokened = ("GET /auth/verify-email", "GET /reset-password", "GET /auth/cancel-email-change")
    access_lines = [line for line in output.splitlines() if any(path in line for path in tokened)]
    assert len(access_lines) == 3, output
    for line in access_lines:
        assert token not in line
        assert "?[redacted]" in line


def wait_for_link(log_path: Path, email: str) -> str:
    deadline = time.monotonic() + SERVE_LIMIT_SECONDS
    while time.monotonic() < deadline:
        text = log_path.read_text()
        if email in text and (found := LINK.search(text)):
            return found.group(0)
        time.sleep(0.1)
    raise AssertionError(log_path.read_text())


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"RATE_LIMIT_LOGIN": "lots"}, "RATE_LIMIT_LOGIN: must be a rate such as '10/minute'"),
        ({"EMAIL_PORT": "99999"}, "EMAIL_PORT: Input should be less than or equal to 65535"),
        ({"DB_URL": "mysql://root@db/app"}, "DB_URL: the scheme 'mysql' is not supported"),
        (
            {"ENVIRONMENT": "production", "JWT_SECRET": "short", "EMAIL_PASSWORD": "p4ssw0rd!"},
            "JWT_SECRET must be set to a random value",
        ),
    ],
)
def test_a_configuration_error_is_one_line_and_exit_status_2(
    settings: dict[str, str], says: str
) -> None:
    for args in (["db", "upgrade"], ["serve"], ["db", "prune"]):
        result = CliRunner().invoke(cli, args, env=served_environment(**settings))
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert says in lines[0]
        assert "p4ssw0rd!" not in result.output
        assert "short" not in lines[0].split(":", 1)[1].replace("shortly", "")


def test_uvicorn_on_the_module_app_says_the_same_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import fastapi_auth.main as main; main.app"],
        env=served_environment(RATE_LIMIT_LOGIN="lots"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SERVE_LIMIT_SECONDS,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: RATE_LIMIT_LOGIN: must be a rate such as '10/minute' or '100/hour'"
    ]


def test_an_unreachable_database_is_one_line_naming_it() -> None:
    url = f"postgresql://app:hidden-password@127.0.0.1:{free_port()}/accounts"
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=served_environment(DB_URL=url))
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("database error: cannot use postgresql+asyncpg://app:***@127.0.0.1")
    assert "hidden-password" not in result.output


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs PostgreSQL")
async def test_a_plain_postgresql_url_migrates_with_asyncpg(tmp_path: Path) -> None:
    scratch = await create_database("postgresql", tmp_path)
    try:
        plain = scratch.url.replace("postgresql+asyncpg://", "postgresql://")
        result = await asyncio.to_thread(run_cli, plain, "db", "upgrade")
        assert result.exit_code == 0
    finally:
        await drop_database(scratch)


def wait_for_health(url: str, server: subprocess.Popen[bytes]) -> httpx.Response | None:
    deadline = time.monotonic() + SERVE_LIMIT_SECONDS
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline and server.poll() is None:
            try:
                return http.get(url)
            except httpx.TransportError:
                time.sleep(0.1)
    return None


def test_make_run_installs_only_what_serving_needs() -> None:
    """The test tools (playwright, schemathesis, mypy, ...) come with `make test` only."""
    repository = Path(__file__).parent.parent
    planned = subprocess.run(
        ["make", "-n", "-B", "run", "VENV=/nonexistent-venv"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in planned.splitlines() if "pip install" in line]
    assert installs, planned
    assert all("[dev]" not in line for line in installs), installs
    tested = subprocess.run(
        ["make", "-n", "-B", "pytest", "VENV=/nonexistent-venv"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-e '.[dev]'" in tested
