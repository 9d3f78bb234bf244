"""Building the app: standalone with `create_app`, or inside yours with `install`.

app = create_app(Settings())                 # the whole service

runtime = build_runtime(Settings())          # or into an existing app
app = FastAPI(lifespan=auth_lifespan(runtime))
install(app, runtime)
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.email.dispatcher import OutboxDispatcher
from fastapi_auth.email.sender import EmailSender, build_sender
from fastapi_auth.email.service import EmailComposer, Mailer
from fastapi_auth.flows.router import router as auth_router
from fastapi_auth.flows.service import AuthService
from fastapi_auth.health.router import router as health_router
from fastapi_auth.kernel.access_check import LiveSessions
from fastapi_auth.kernel.breached_passwords import (
    BreachedPasswordChecker,
    build_breached_password_checker,
)
from fastapi_auth.kernel.components import Components
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.error_handlers import install_error_handlers
from fastapi_auth.kernel.fast_path import FastPath
from fastapi_auth.kernel.links import Links
from fastapi_auth.kernel.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from fastapi_auth.kernel.password_attempts import PasswordAttempts
from fastapi_auth.kernel.password_gate import PasswordGate
from fastapi_auth.kernel.passwords import PasswordHasher, PwdlibPasswordHasher
from fastapi_auth.kernel.principal import Authenticator
from fastapi_auth.kernel.rate_limits import RateLimiter
from fastapi_auth.kernel.schema_check import SchemaCheck
from fastapi_auth.kernel.settings import Settings, describe
from fastapi_auth.kernel.tokens import AccessTokenCodec, LinkTokenCodec
from fastapi_auth.migrations.config import VERSION_TABLE, script_head
from fastapi_auth.pages.rendering import STATIC_DIR, PageAnswer, page_answer_handler
from fastapi_auth.pages.router import router as pages_router
from fastapi_auth.security_events.router import router as security_events_router
from fastapi_auth.security_events.service import SecurityEventService
from fastapi_auth.sessions.repository import RefreshRotations
from fastapi_auth.sessions.router import router as sessions_router
from fastapi_auth.sessions.service import SessionService, TokenRotation
from fastapi_auth.users.router import router as users_router
from fastapi_auth.users.service import UserService

logger = logging.getLogger("fastapi_auth")

ROUTERS: tuple[APIRouter, ...] = (
    # `GET /users/me`, the busiest route, first: a request is matched against each route
    # in turn (benchmarks/README.md, "What the profile showed"). The docs keep the order of
    # `OPENAPI_TAGS`.
    users_router,
    sessions_router,
    auth_router,
    security_events_router,
    health_router,
    pages_router,
)

OPENAPI_TAGS = [
    {"name": "auth", "description": "Register, verify the address, log in, refresh, reset."},
    {"name": "users", "description": "The signed-in user's own account."},
    {"name": "sessions", "description": "Where the account is signed in, and its history."},
    {"name": "health", "description": "For load balancers and orchestrators."},
]


@dataclass(frozen=True)
class Runtime:
    """What one app instance owns: the parts with a lifetime (started and closed by
    `auth_lifespan`), and every part and service the routes reach (`components`)."""

    settings: Settings
    database: Database
    fast_path: FastPath
    passwords: PasswordHasher
    dispatcher: OutboxDispatcher
    limiter: RateLimiter
    attempts: PasswordAttempts
    breached_passwords: BreachedPasswordChecker
    components: Components


def build_runtime(
    settings: Settings,
    *,
    password_hasher: PasswordHasher | None = None,
    email_sender: EmailSender | None = None,
    breached_passwords: BreachedPasswordChecker | None = None,
) -> Runtime:
    """The one place the parts are built and each service is handed the ones it uses."""
    database = Database(settings)
    fast_path = FastPath(database)
    sender = email_sender or build_sender(settings)
    passwords = password_hasher or PwdlibPasswordHasher(settings)
    breached = breached_passwords or build_breached_password_checker(settings)
    attempts = PasswordAttempts(settings)
    limiter = RateLimiter(settings)
    gate = PasswordGate(passwords, attempts)
    access_tokens = AccessTokenCodec(settings)
    links = Links(settings, LinkTokenCodec(settings))
    mailer = Mailer(EmailComposer(settings))

    def sessions(session: AsyncSession) -> SessionService:
        return SessionService(session, access_tokens, settings)

    def users(session: AsyncSession) -> UserService:
        return UserService(
            session,
            sessions=sessions(session),
            security_events=SecurityEventService(session),
            password_gate=gate,
            passwords=passwords,
            breached_passwords=breached,
            limiter=limiter,
            mailer=mailer,
            links=links,
            settings=settings,
        )

    def flows(session: AsyncSession) -> AuthService:
        return AuthService(
            session,
            database=database,
            sessions=sessions(session),
            password_gate=gate,
            passwords=passwords,
            breached_passwords=breached,
            attempts=attempts,
            limiter=limiter,
            mailer=mailer,
            links=links,
            settings=settings,
        )

    components = Components()
    for part in (
        settings,
        database,
        fast_path,
        access_tokens,
        gate,
        limiter,
        Authenticator(access_tokens, LiveSessions(fast_path)),
        TokenRotation(RefreshRotations(fast_path), database, access_tokens, sessions),
        SchemaCheck(database, script_head(), VERSION_TABLE),
    ):
        components.add(part)
    components.provide(SessionService, sessions)
    components.provide(UserService, users)
    components.provide(AuthService, flows)
    components.provide(SecurityEventService, SecurityEventService)
    return Runtime(
        settings=settings,
        database=database,
        fast_path=fast_path,
        passwords=passwords,
        dispatcher=OutboxDispatcher(database, sender, settings),
        limiter=limiter,
        attempts=attempts,
        breached_passwords=breached,
        components=components,
    )


def freeze_startup_heap() -> None:
    """Moves every object alive after start-up out of the garbage collector's reach.

    A full collection walks every tracked object, and nearly all of them are the modules,
    routes, schemas and mappers loaded at start-up, which live as long as the process;
    each one held every request in flight meanwhile (benchmarks/README.md has the
    figures). Only what requests allocate is collected then. Only for a process that
    serves this app alone; an app that mounts the routers may call `gc.freeze()` itself
    once it has started.
    """
    gc.collect()
    gc.freeze()


def auth_lifespan(
    runtime: Runtime, *, owns_process: bool = False
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.passwords.verify_dummy("warm-up")
        await runtime.components.get(SchemaCheck).warn_if_outdated()
        if runtime.settings.email_dispatcher_enabled:
            runtime.dispatcher.start()
        if owns_process:
            freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.dispatcher.stop()
            await runtime.breached_passwords.aclose()
            await runtime.limiter.aclose()
            await runtime.attempts.aclose()
            await runtime.fast_path.dispose()
            await runtime.database.dispose()

    return lifespan


def install(app: FastAPI, runtime: Runtime) -> None:
    """Adds the routers, error handlers, pages and middleware to an existing app."""
    app.state.fastapi_auth = runtime.components
    install_error_handlers(app)
    app.add_exception_handler(PageAnswer, page_answer_handler)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="fastapi-auth-static")
    settings = runtime.settings
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, trusted_proxies=tuple(settings.trusted_proxies))


def create_app(
    settings: Settings | None = None,
    *,
    password_hasher: PasswordHasher | None = None,
    email_sender: EmailSender | None = None,
    owns_process: bool = False,
) -> FastAPI:
    """`owns_process`: the app is all this process serves (as `fastapi_auth.main:app`
    is), so start-up may tune the process itself (`freeze_startup_heap`)."""
    settings = settings or Settings()
    runtime = build_runtime(settings, password_hasher=password_hasher, email_sender=email_sender)
    app = FastAPI(
        title=settings.project_name,
        version="0.1.0",
        description="Registration, email verification, JWT sessions with rotating refresh "
        "tokens, password reset and profile management.",
        openapi_tags=OPENAPI_TAGS,
        lifespan=auth_lifespan(runtime, owns_process=owns_process),
    )
    install(app, runtime)
    return app


def __getattr__(name: str) -> Any:
    """`fastapi_auth.main:app` for uvicorn, built on first access from the environment."""
    if name == "app":
        try:
            settings = Settings()
        except ValidationError as error:
            raise SystemExit(describe(error)) from None
        application = create_app(settings, owns_process=True)
        globals()["app"] = application
        return application
    raise AttributeError(name)
