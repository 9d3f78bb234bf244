"""The long-lived parts one app instance shares across requests.

Each part is a seam: pass your own `PasswordHasher` or `EmailSender` to
`create_app` to replace the default without forking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from fastapi_auth.auth.breached_passwords import BreachedPasswordChecker
from fastapi_auth.auth.links import Links
from fastapi_auth.auth.password_gate import PasswordGate
from fastapi_auth.auth.passwords import PasswordHasher
from fastapi_auth.auth.tokens import AccessTokenCodec
from fastapi_auth.db import Database
from fastapi_auth.email.dispatcher import OutboxDispatcher
from fastapi_auth.email.sender import EmailSender
from fastapi_auth.email.service import Mailer
from fastapi_auth.ratelimit.attempts import PasswordAttempts
from fastapi_auth.ratelimit.service import RateLimiter
from fastapi_auth.sessions.repository import RefreshRotations
from fastapi_auth.settings import Settings
from fastapi_auth.users.repository import LiveSessions


@dataclass
class Runtime:
    settings: Settings
    database: Database
    passwords: PasswordHasher
    access_tokens: AccessTokenCodec
    links: Links
    mailer: Mailer
    sender: EmailSender
    dispatcher: OutboxDispatcher
    limiter: RateLimiter
    attempts: PasswordAttempts
    password_gate: PasswordGate
    breached_passwords: BreachedPasswordChecker
    live_sessions: LiveSessions
    rotations: RefreshRotations


async def get_runtime(request: Request) -> Runtime:
    """`async` although it never awaits: FastAPI runs a plain `def` dependency in a worker
    thread, which costs a thread hop on every request."""
    runtime: Runtime = request.app.state.fastapi_auth
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
