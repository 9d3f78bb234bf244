"""The operator's side: `fastapi-auth outbox list --failed` shows why an email failed,
`fastapi-auth outbox retry` sends it again, and `fastapi-auth worker` delivers the outbox
from a process of its own while the API runs without a dispatcher."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from typer.testing import CliRunner

from fastapi_auth import cli
from fastapi_auth.kernel.models.outbox_email import FAILED, PENDING, SENT
from fastapi_auth.kernel.settings import Settings
from tests.conftest import JWT_SECRET, http_client
from tests.email.outbox import HANG_GUARD_SECONDS, Outbox, all_in, email_app
from tests.email.smtp_servers import RefusingMailbox, SmtpServer, running
from tests.services import TestDatabase
from tests.support import register, unique_email

CLI = Path(sys.executable).parent / "fastapi-auth"


def cli_environment(database: TestDatabase, port: int) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "DB_URL": database.url,
        "JWT_SECRET": JWT_SECRET,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_STARTTLS": "false",
        "EMAIL_POLL_SECONDS": "0.1",
    }


def worker_environment(database: TestDatabase, port: int) -> dict[str, str]:
    """The caller's environment minus any setting a developer may have exported, plus ours."""
    ours = {name.upper() for name in Settings.model_fields}
    inherited = {name: value for name, value in os.environ.items() if name not in ours}
    return {**inherited, **cli_environment(database, port)}


async def fastapi_auth(*args: str, env: dict[str, str]) -> str:
    """`fastapi-auth ARGS` in this process (in a thread: the command runs its own loop)."""
    unset: dict[str, str | None] = dict.fromkeys(name.upper() for name in Settings.model_fields)
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, list(args), env={**unset, **env})
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_failed_email_is_listed_with_its_error_and_delivered_once_retried(
    email_database: TestDatabase, outbox: Outbox
) -> None:
    refusing = RefusingMailbox(reply="550 5.1.1 No such user here")
    email = unique_email()
    with running(SmtpServer(refusing)) as server:
        env = cli_environment(email_database, server.port)
        async with (
            email_app(email_database, server.port) as application,
            http_client(application) as http,
        ):
            assert (await register(http, email)).status_code == 202
            [failed] = await outbox.wait_until(all_in(FAILED), email)

            listed = await fastapi_auth("outbox", "list", "--failed", env=env)
            entry, error = listed.splitlines()[:2]
            assert str(failed.id) in entry
            assert "failed" in entry
            assert "attempts=1" in entry
            assert f"to={email}" in entry
            assert error.strip() == "last error: 550 5.1.1 No such user here"

            refusing.relent()
            requeued = await fastapi_auth("outbox", "retry", env=env)
            assert requeued.strip() == "requeued 1 emails"
            await refusing.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)
            [sent] = await outbox.wait_until(all_in(SENT), email)
    assert sent.id == failed.id
    assert len(refusing.to(email)) == 1


async def test_the_worker_delivers_what_an_api_without_a_dispatcher_queued(
    email_database: TestDatabase, outbox: Outbox, tmp_path: Path
) -> None:
    email = unique_email()
    log = tmp_path / "worker.log"
    with running(SmtpServer()) as server, log.open("wb") as output:
        worker = await asyncio.create_subprocess_exec(
            CLI,
            "worker",
            env=worker_environment(email_database, server.port),
            cwd=tmp_path,
            stdout=output,
            stderr=output,
        )
        try:
            async with (
                email_app(
                    email_database, server.port, email_dispatcher_enabled=False
                ) as application,
                http_client(application) as http,
            ):
                assert (await register(http, email)).status_code == 202
                assert (await outbox.one(email)).status in {PENDING, SENT}
                await server.mailbox.wait_for(email, "Verify", within_seconds=HANG_GUARD_SECONDS)
                await outbox.wait_until(all_in(SENT), email)
        finally:
            worker.send_signal(signal.SIGTERM)
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                stopped = await worker.wait()
    assert stopped == 0, log.read_text()
    assert "worker stopped" in log.read_text()
    assert len(server.mailbox.to(email)) == 1
