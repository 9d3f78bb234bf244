"""Verified users, live sessions and their tokens, written straight into the database.

Seeding goes through the package's own tables, password hasher and token code
(the same argon2id parameters, the same SHA-256 of refresh tokens, the same JWT
signing), so the service cannot tell these rows from ones it wrote itself; it
is just far quicker than registering and verifying thousands of accounts over
HTTP. Every user shares one password hash: verifying it costs the same either
way, and hashing ten thousand passwords would take minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from fastapi_auth.kernel.models import AuthSession, RefreshToken, User, utcnow
from fastapi_auth.kernel.passwords import PwdlibPasswordHasher
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.kernel.tokens import AccessTokenCodec, hash_refresh_token, new_refresh_token

PASSWORD = "correct horse battery staple"
CHUNK = 1000


def email_of(index: int) -> str:
    """login.lua builds the same addresses."""
    return f"bench-{index}@example.com"


@dataclass(frozen=True)
class Seeded:
    users: int
    me_tokens: Path
    """Access tokens, one per live session."""
    refresh_tokens: dict[str, Path]
    """Unspent refresh tokens, one per session, one file per scenario run (a warm-up
    spends its own)."""


def chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


async def insert_rows(
    connection: AsyncConnection, table: Any, rows: Sequence[dict[str, Any]]
) -> None:
    for chunk in chunks(rows):
        await connection.execute(insert(table), chunk)


async def seed(
    settings: Settings,
    directory: Path,
    *,
    users: int,
    me_sessions: int,
    refresh_sessions: dict[str, int],
) -> Seeded:
    password_hash = await PwdlibPasswordHasher(settings).hash(PASSWORD)
    now = utcnow()
    user_rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "email": email_of(index),
            "email_key": email_of(index),
            "password_hash": password_hash,
            "full_name": f"Bench User {index}",
            "is_verified": True,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
        for index in range(users)
    ]
    codec = AccessTokenCodec(settings)
    expires = now + timedelta(days=settings.refresh_token_expire_days)
    session_rows: list[dict[str, Any]] = []
    token_rows: list[dict[str, Any]] = []

    def start_session(index: int) -> tuple[uuid.UUID, uuid.UUID, str]:
        """A session as a login leaves it: one unspent refresh token."""
        user_id: uuid.UUID = user_rows[index % users]["id"]
        session_id = uuid.uuid4()
        refresh = new_refresh_token()
        session_rows.append(
            {
                "id": session_id,
                "user_id": user_id,
                "user_agent": "wrk",
                "ip_address": "127.0.0.1",
                "created_at": now,
                "last_used_at": now,
                "expires_at": expires,
            }
        )
        token_rows.append(
            {
                "id": uuid.uuid4(),
                "session_id": session_id,
                "token_hash": hash_refresh_token(refresh),
                "created_at": now,
            }
        )
        return user_id, session_id, refresh

    access_tokens = []
    for index in range(me_sessions):
        user_id, session_id, _ = start_session(index)
        access_tokens.append(codec.issue(user_id, session_id))
    me_tokens = directory / "me-tokens.txt"
    me_tokens.write_text("\n".join(access_tokens) + "\n")

    refresh_files: dict[str, Path] = {}
    offset = me_sessions
    for name, count in refresh_sessions.items():
        tokens = [start_session(offset + index)[2] for index in range(count)]
        offset += count
        refresh_files[name] = directory / f"refresh-{name}.txt"
        refresh_files[name].write_text("\n".join(tokens) + "\n")

    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await insert_rows(connection, User, user_rows)
            await insert_rows(connection, AuthSession, session_rows)
            await insert_rows(connection, RefreshToken, token_rows)
    finally:
        await engine.dispose()
    return Seeded(users=users, me_tokens=me_tokens, refresh_tokens=refresh_files)
