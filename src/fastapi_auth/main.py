"""Building the app: standalone with `create_app`, or inside yours with `mount`.

app = create_app(Settings())                 # the whole service

app = FastAPI(lifespan=your_lifespan)        # or into an existing app, which keeps
auth = mount(app, Settings(), prefix="/id")  # its own routes, errors and headers
"""

from __future__ import annotations

import copy
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

from fastapi_auth.docs import install_offline_docs
from fastapi_auth.email.dispatcher import OutboxDispatcher
from fastapi_auth.email.sender import EmailSender, build_sender
from fastapi_auth.email.service import EmailComposer, Mailer
from fastapi_auth.flows.router import router as auth_router
from fastapi_auth.flows.service import AuthService
from fastapi_auth.health.router import router as health_router
from fastapi_auth.kernel.access_check import LiveSessions
from fastapi_auth.kernel.branding import Branding
from fastapi_auth.kernel.breached_passwords import (
    BreachedPasswordChecker,
    build_breached_password_checker,
)
from fastapi_auth.kernel.components import Components
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.error_handlers import install_error_handlers, install_own_error_handlers
from fastapi_auth.kernel.fast_path import FastPath
from fastapi_auth.kernel.hooks import Hooks
from fastapi_auth.kernel.links import Links
from fastapi_auth.kernel.middleware import DOCS_PATHS
from fastapi_auth.kernel.password_attempts import PasswordAttempts
from fastapi_auth.kernel.password_gate import PasswordGate
from fastapi_auth.kernel.password_policy import (
    MIN_PASSWORD_LENGTH,
    PasswordPolicy,
    PasswordRules,
    StandardPasswordPolicy,
)
from fastapi_auth.kernel.passwords import PasswordHasher, PwdlibPasswordHasher
from fastapi_auth.kernel.principal import Authenticator, token_url_under
from fastapi_auth.kernel.rate_limits import RateLimiter
from fastapi_auth.kernel.route_guard import GuardedStatic, GuardEverything, RouteGuard
from fastapi_auth.kernel.schema_check import SchemaCheck
from fastapi_auth.kernel.secret_box import SecretBox
from fastapi_auth.kernel.settings import ConfigurationError, Settings, describe
from fastapi_auth.kernel.tokens import AccessTokenCodec, LinkTokenCodec
from fastapi_auth.mfa.router import passkeys_router
from fastapi_auth.mfa.router import router as mfa_router
from fastapi_auth.mfa.service import TOTP_SECRET_PURPOSE, MfaService
from fastapi_auth.mfa.webauthn import RelyingParty
from fastapi_auth.migrations.config import VERSION_TABLE, script_head
from fastapi_auth.pages.rendering import STATIC_DIR, STATIC_PATH, Pages
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
    mfa_router,
    passkeys_router,
    sessions_router,
    auth_router,
    security_events_router,
    health_router,
    pages_router,
)

OPENAPI_TAGS = [
    {"name": "auth", "description": "Register, verify the address, log in, refresh, reset."},
    {"name": "users", "description": "The signed-in user's own account."},
    {
        "name": "mfa",
        "description": "Second factors: an authenticator app, recovery codes, passkeys.",
    },
    {"name": "sessions", "description": "Where the account is signed in, and its history."},
    {"name": "health", "description": "For load balancers and orchestrators."},
]


@dataclass(frozen=True)
class Runtime:
    """What one app instance owns: the parts with a lifetime (started and closed by
    `auth_lifespan`), and every part and service the routes reach (`components`)."""

    settings: Settings
    prefix: str
    database: Database
    fast_path: FastPath
    passwords: PasswordHasher
    dispatcher: OutboxDispatcher
    limiter: RateLimiter
    attempts: PasswordAttempts
    breached_passwords: BreachedPasswordChecker
    hooks: Hooks
    components: Components


def build_runtime(
    settings: Settings,
    *,
    prefix: str = "",
    password_hasher: PasswordHasher | None = None,
    email_sender: EmailSender | None = None,
    breached_passwords: BreachedPasswordChecker | None = None,
    password_policy: PasswordPolicy | None = None,
    hooks: Hooks | None = None,
) -> Runtime:
    """The one place the parts are built and each service is handed the ones it uses.

    `prefix`: the path every route (and so every emailed link) is mounted under.
    `password_policy`: the host's own rule for new passwords, checked after the standard
    ones (which it cannot loosen) and before the breached-password check."""
    prefix = _checked_prefix(prefix)
    database = Database(settings)
    hooks = hooks if hooks is not None else Hooks()
    database.deliver_account_events = hooks.deliver
    fast_path = FastPath(database)
    sender = email_sender or build_sender(settings)
    passwords = password_hasher or PwdlibPasswordHasher(settings)
    breached = breached_passwords or build_breached_password_checker(settings)
    attempts = PasswordAttempts(settings)
    limiter = RateLimiter(settings)
    gate = PasswordGate(passwords, attempts)
    password_rules = PasswordRules(
        StandardPasswordPolicy(settings.password_min_length), breached, password_policy
    )
    access_tokens = AccessTokenCodec(settings)
    links = Links(settings, LinkTokenCodec(settings), prefix=prefix)
    branding = Branding.from_settings(settings)
    mailer = Mailer(EmailComposer(branding, templates_dir=settings.email_templates_dir))
    totp_secrets = SecretBox(
        settings.mfa_encryption_key.get_secret_value()
        if settings.mfa_encryption_key
        else settings.signing_secret,
        TOTP_SECRET_PURPOSE,
    )
    relying_party = RelyingParty(
        settings.relying_party_id, settings.relying_party_name, settings.relying_party_origins
    )

    def sessions(session: AsyncSession) -> SessionService:
        return SessionService(session, access_tokens, settings)

    def users(session: AsyncSession) -> UserService:
        return UserService(
            session,
            sessions=sessions(session),
            security_events=SecurityEventService(session),
            password_gate=gate,
            passwords=passwords,
            password_rules=password_rules,
            limiter=limiter,
            mailer=mailer,
            links=links,
            settings=settings,
        )

    def mfa(session: AsyncSession) -> MfaService:
        return MfaService(
            session,
            password_gate=gate,
            secret_box=totp_secrets,
            limiter=limiter,
            mailer=mailer,
            links=links,
            issuer=settings.app_name,
            relying_party=relying_party,
        )

    def flows(session: AsyncSession) -> AuthService:
        return AuthService(
            session,
            database=database,
            sessions=sessions(session),
            password_gate=gate,
            passwords=passwords,
            password_rules=password_rules,
            attempts=attempts,
            limiter=limiter,
            mailer=mailer,
            links=links,
            settings=settings,
            mfa=mfa(session),
        )

    components = Components()
    for part in (
        settings,
        database,
        password_rules,
        fast_path,
        access_tokens,
        gate,
        limiter,
        Authenticator(access_tokens, LiveSessions(fast_path)),
        TokenRotation(RefreshRotations(fast_path), database, access_tokens, sessions),
        Pages(prefix=prefix, branding=branding, password_min_length=settings.password_min_length),
        RouteGuard(
            max_body_bytes=settings.max_body_bytes,
            trusted_proxies=tuple(settings.trusted_proxies),
            cacheable=(*DOCS_PATHS, prefix + STATIC_PATH),
            page_csp=branding.page_csp,
        ),
        SchemaCheck(database, script_head(), VERSION_TABLE),
    ):
        components.add(part)
    components.provide(SessionService, sessions)
    components.provide(UserService, users)
    components.provide(AuthService, flows)
    components.provide(MfaService, mfa)
    components.provide(SecurityEventService, SecurityEventService)
    return Runtime(
        settings=settings,
        prefix=prefix,
        database=database,
        fast_path=fast_path,
        passwords=passwords,
        dispatcher=OutboxDispatcher(database, sender, settings),
        limiter=limiter,
        attempts=attempts,
        breached_passwords=breached,
        hooks=hooks,
        components=components,
    )


def _checked_prefix(prefix: str) -> str:
    """As `include_router` takes it: empty, or a path that starts with `/` and does not
    end with one."""
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"a prefix starts with '/' and does not end with one, not {prefix!r}")
    return prefix


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
    runtime: Runtime, *, owns_process: bool = False, migrate: bool = False
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """`migrate`: upgrade the schema before anything else starts (every instance may: they
    queue on a lock, and the later ones apply nothing)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            # Imported only here: an app that does not migrate never loads Alembic.
            from fastapi_auth.migrations.runner import upgrade_database

            applied = await upgrade_database(runtime.settings)
            if applied:
                logger.info("fastapi_auth: applied migrations %s", ", ".join(applied))
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
            await runtime.hooks.wait()
            await runtime.breached_passwords.aclose()
            await runtime.limiter.aclose()
            await runtime.attempts.aclose()
            await runtime.fast_path.dispose()
            await runtime.database.dispose()

    return lifespan


def install(app: FastAPI, runtime: Runtime, *, standalone: bool = False) -> None:
    """Adds the routes, pages and static files to `app`, each carrying this package's
    headers, body cap and error answers; nothing of the app's own routes changes.
    `standalone`: the app is this package alone, whose headers and error answers are
    then every answer's, a 404's too."""
    if getattr(app.state, "fastapi_auth", None) is not None:
        # The routes find their parts in the app's state, one set per app: a second
        # mount would take over the first's routes (their links, pages, database).
        raise RuntimeError("fastapi-auth is already mounted into this app")
    components = runtime.components
    app.state.fastapi_auth = components
    install_own_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=runtime.prefix)
    if runtime.prefix:
        _token_url_in_docs(app, runtime.prefix)
    if runtime.settings.password_min_length != MIN_PASSWORD_LENGTH:
        _password_length_in_docs(app, runtime.prefix, runtime.settings.password_min_length)
    app.mount(
        runtime.prefix + STATIC_PATH,
        GuardedStatic(StaticFiles(directory=STATIC_DIR)),
        name="fastapi-auth-static",
    )
    if not standalone:
        return
    install_error_handlers(app)
    settings = runtime.settings
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(GuardEverything, guard=components.get(RouteGuard))


def _token_url_in_docs(app: FastAPI, prefix: str) -> None:
    """The docs' Authorize form posts to the login route under the prefix."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            token_url_under(prefix, build())
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


NEW_PASSWORD_FIELDS = {
    "/auth/register": "password",
    "/auth/reset-password": "new_password",
    "/users/change-password": "new_password",
}
"""Each route that takes a new password, and the field that carries it."""


def _password_length_in_docs(app: FastAPI, prefix: str, min_length: int) -> None:
    """The docs' `minLength` of each new password is `PASSWORD_MIN_LENGTH`, as enforced,
    not the schema's static 8, so generated clients check what the server will. Copies
    what it changes: a route's `openapi_extra` is one dict shared by every app."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.get("components", {}).get("schemas", {})
            for path, field in NEW_PASSWORD_FIELDS.items():
                operation = schema.get("paths", {}).get(prefix + path, {}).get("post")
                if operation is None or "requestBody" not in operation:
                    continue
                operation["requestBody"] = body = copy.deepcopy(operation["requestBody"])
                for media in body.get("content", {}).values():
                    model = media.get("schema", {})
                    name = model.get("$ref", "").rpartition("/")[2]
                    if name in components:
                        components[name] = model = copy.deepcopy(components[name])
                    prop = model.get("properties", {}).get(field, {})
                    if "minLength" in prop:
                        prop["minLength"] = min_length
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def mount(
    app: FastAPI,
    settings: Settings | None = None,
    *,
    prefix: str = "",
    hooks: Hooks | None = None,
    password_hasher: PasswordHasher | None = None,
    email_sender: EmailSender | None = None,
    password_policy: PasswordPolicy | None = None,
    breached_passwords: BreachedPasswordChecker | None = None,
    migrate: bool = False,
) -> Runtime:
    """This package inside `app`: its routes under `prefix`, its parts started before the
    app's own lifespan and closed after it (so the host's start-up may already use them).
    `migrate`: bring this package's schema up to date at start, before the host's own
    lifespan runs."""
    runtime = build_runtime(
        settings or Settings(),
        prefix=prefix,
        hooks=hooks,
        password_hasher=password_hasher,
        email_sender=email_sender,
        password_policy=password_policy,
        breached_passwords=breached_passwords,
    )
    install(app, runtime)
    hosts_lifespan = app.router.lifespan_context
    ours = auth_lifespan(runtime, migrate=migrate)

    @asynccontextmanager
    async def lifespan(host: FastAPI) -> AsyncIterator[Any]:
        async with ours(host), hosts_lifespan(host) as state:
            try:
                yield state
            finally:
                # Hooks are the host's code, using the host's resources: they finish
                # before the host's shutdown closes them.
                await runtime.hooks.wait()

    app.router.lifespan_context = lifespan
    return runtime


def create_app(
    settings: Settings | None = None,
    *,
    prefix: str = "",
    hooks: Hooks | None = None,
    password_hasher: PasswordHasher | None = None,
    email_sender: EmailSender | None = None,
    password_policy: PasswordPolicy | None = None,
    breached_passwords: BreachedPasswordChecker | None = None,
    owns_process: bool = False,
) -> FastAPI:
    """`owns_process`: the app is all this process serves (as `fastapi_auth.main:app`
    is), so start-up may tune the process itself (`freeze_startup_heap`)."""
    settings = settings or Settings()
    runtime = build_runtime(
        settings,
        prefix=prefix,
        hooks=hooks,
        password_hasher=password_hasher,
        email_sender=email_sender,
        password_policy=password_policy,
        breached_passwords=breached_passwords,
    )
    app = FastAPI(
        title=settings.app_name,
        version="0.1.0",
        description="Registration, email verification, JWT sessions with rotating refresh "
        "tokens, password reset and profile management.",
        openapi_tags=OPENAPI_TAGS,
        lifespan=auth_lifespan(runtime, owns_process=owns_process),
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(app)
    install(app, runtime, standalone=True)
    return app


def __getattr__(name: str) -> Any:
    """`fastapi_auth.main:app` for uvicorn, built on first access from the environment."""
    if name == "app":
        try:
            settings = Settings()
        except ValidationError as error:
            raise SystemExit(describe(error)) from None
        try:
            application = create_app(settings, owns_process=True)
        except ConfigurationError as error:
            raise SystemExit(f"configuration error: {error}") from None
        globals()["app"] = application
        return application
    raise AttributeError(name)
