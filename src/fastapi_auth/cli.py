"""`fastapi-auth`: serve, migrate, prune, run the email worker, inspect the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from fastapi_auth.email.dispatcher import OutboxDispatcher
from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.email.sender import build_sender
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.models import utcnow
from fastapi_auth.kernel.models.outbox_email import FAILED, PENDING, SENT
from fastapi_auth.kernel.settings import Settings, describe

app = typer.Typer(help="Authentication and user management for FastAPI.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and housekeeping.", no_args_is_help=True)
outbox_app = typer.Typer(help="The email outbox.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(outbox_app, name="outbox")


KEEP_ALIVE_SECONDS = 5
MAX_INCOMPLETE_EVENT_BYTES = 16 * 1024
GRACEFUL_SHUTDOWN_SECONDS = 15
MAX_CONNECTIONS = 2048
"""What uvicorn itself can bound (see README, "What to put in front", for the rest)."""


def load_settings() -> Settings:
    """The settings, or one line naming what is wrong with them and exit status 2."""
    try:
        return Settings()
    except ValidationError as error:
        typer.echo(describe(error), err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def database_errors_in_one_line(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached (or refuses the login) is one line saying which
    one and why, not a traceback; no password is in it."""
    try:
        yield
    except (SQLAlchemyError, OSError, ValueError, TypeError) as error:
        url = settings.database_url.render_as_string(hide_password=True)
        cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        typer.echo(
            f"database error: cannot use {url} (DB_URL): {type(cause).__name__}: {reason}",
            err=True,
        )
        raise typer.Exit(1) from None


def public_url(host: str, port: int) -> str:
    shown = "localhost" if host in {"127.0.0.1", "0.0.0.0", "::", "localhost"} else host  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first.")] = True,
    reload: Annotated[bool, typer.Option(help="Restart on code changes.")] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Serve the API with uvicorn, on uvloop and httptools (uvicorn's "standard" extra
    installs them, and uvicorn picks them itself). Without `FRONTEND_URL`, emailed links
    point at the address served here. Link tokens are redacted from every log line."""
    import uvicorn

    from fastapi_auth.kernel.log_redaction import uvicorn_log_config

    settings = load_settings()
    if settings.frontend_url is None:
        os.environ["FRONTEND_URL"] = public_url(host, port)
    if settings.jwt_secret is None or not settings.jwt_secret.get_secret_value():
        # One random key for every worker of this run (each would draw its own, and a
        # link signed by one would be refused by the others); none survives a restart.
        os.environ["JWT_SECRET"] = secrets.token_urlsafe(48)
        typer.echo(
            "JWT_SECRET is not set: using a random key until this server stops. Tokens "
            "and emailed links will not survive a restart. Set JWT_SECRET in production.",
            err=True,
        )
    if migrate:
        upgrade()
    uvicorn.run(
        "fastapi_auth.main:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        access_log=access_log,
        proxy_headers=False,
        log_level="info",
        log_config=uvicorn_log_config(),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        h11_max_incomplete_event_size=MAX_INCOMPLETE_EVENT_BYTES,
        limit_concurrency=MAX_CONNECTIONS,
    )


@db_app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    # Imported here, not at the top: a server that does not migrate spares the memory
    # (alembic and mako, ~9 MiB).
    from fastapi_auth.migrations.runner import script_head, upgrade_database_sync

    settings = load_settings()
    with database_errors_in_one_line(settings):
        applied = upgrade_database_sync(settings, revision)
    if applied:
        typer.echo(f"applied {', '.join(applied)}")
    elif revision == "head":
        typer.echo(f"already at head ({script_head()})")
    else:
        typer.echo(f"nothing to apply: already at or past {revision}")


@db_app.command("downgrade")
def downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION."""
    from fastapi_auth.migrations.runner import downgrade_database_sync

    settings = load_settings()
    with database_errors_in_one_line(settings):
        reverted = downgrade_database_sync(settings, revision)
    if reverted:
        typer.echo(f"reverted {', '.join(reverted)}")
    else:
        typer.echo(f"nothing to revert: already at or below {revision}")


@db_app.command("prune")
def prune(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows deleted per transaction.")] = 1000,
    keep_sent_days: Annotated[int, typer.Option(min=0, help="Days to keep sent emails.")] = 7,
) -> None:
    """Delete ended sessions, their spent tokens, expired registrations and email changes,
    logins that never finished their second step, expired passkey challenges, and old
    sent emails, in batches (cron-safe)."""
    from fastapi_auth.flows.repository import RegistrationRepository
    from fastapi_auth.main import build_runtime
    from fastapi_auth.mfa.repository import prune_logins_in_flight
    from fastapi_auth.sessions.service import SessionService
    from fastapi_auth.users.repository import EmailChangeRepository

    settings = load_settings()

    async def run() -> tuple[int, int, int, int, int]:
        runtime = build_runtime(settings)
        sessions = 0
        try:
            while True:
                async with runtime.database.transaction() as session:
                    sessions_of = runtime.components.build(SessionService, session)
                    pruned = await sessions_of.prune(batch_size)
                sessions += pruned
                if pruned < batch_size:
                    break
            async with runtime.database.transaction() as session:
                now = utcnow()
                registrations = await RegistrationRepository(session).delete_expired(now)
                changes = await EmailChangeRepository(session).prune(
                    pending_before=now - timedelta(hours=settings.verify_token_expire_hours),
                    confirmed_before=now - timedelta(days=settings.email_change_cancel_days),
                )
                cutoff = now - timedelta(days=keep_sent_days)
                emails = await OutboxRepository(session).delete_sent_before(cutoff)
                in_flight = await prune_logins_in_flight(session, now)
        finally:
            await runtime.fast_path.dispose()
            await runtime.database.dispose()
        return sessions, registrations, changes, emails, in_flight

    with database_errors_in_one_line(settings):
        sessions, registrations, changes, emails, in_flight = asyncio.run(run())
    typer.echo(
        f"pruned {sessions} sessions, {registrations} expired registrations, "
        f"{changes} email changes, {in_flight} expired MFA logins and passkey challenges "
        f"and {emails} sent emails"
    )


@app.command()
def worker() -> None:
    """Deliver the email outbox in this process (run with EMAIL_DISPATCHER_ENABLED=false
    on the API instances, or beside them: claims never overlap)."""
    logging.basicConfig(level=logging.INFO)
    settings = load_settings()

    async def run() -> None:
        database = Database(settings)
        dispatcher = OutboxDispatcher(database, build_sender(settings), settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        dispatcher.start()
        logging.getLogger("fastapi_auth.email").info("worker delivering the email outbox")
        try:
            await stop.wait()
        finally:
            await dispatcher.stop()
            await database.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    typer.echo("worker stopped")


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only failed emails.")] = False,
    sent: Annotated[bool, typer.Option("--sent", help="Only sent emails.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List queued emails (pending by default), newest first."""
    status = FAILED if failed else SENT if sent else PENDING
    settings = load_settings()

    async def run() -> None:
        database = Database(settings)
        try:
            async with database.transaction() as session:
                emails = await OutboxRepository(session).list_by_status(status, limit)
                for email in emails:
                    typer.echo(
                        f"{email.id}  {email.created_at:%Y-%m-%d %H:%M:%S}  {email.status:<7} "
                        f"attempts={email.attempts}  to={email.recipient}  {email.subject!r}"
                        + (f"\n    last error: {email.last_error}" if email.last_error else "")
                    )
                if not emails:
                    typer.echo(f"no {status} emails")
        finally:
            await database.dispose()

    with database_errors_in_one_line(settings):
        asyncio.run(run())


@outbox_app.command("retry")
def outbox_retry(
    email_id: Annotated[
        uuid.UUID | None, typer.Argument(help="One email; all failed if omitted.")
    ] = None,
) -> None:
    """Queue failed emails again, with their attempts reset."""
    settings = load_settings()

    async def run() -> int:
        database = Database(settings)
        try:
            async with database.transaction() as session:
                return await OutboxRepository(session).requeue_failed(utcnow(), email_id)
        finally:
            await database.dispose()

    with database_errors_in_one_line(settings):
        requeued = asyncio.run(run())
    typer.echo(f"requeued {requeued} emails")
