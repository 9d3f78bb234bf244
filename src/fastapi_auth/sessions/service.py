"""Sessions: starting one at login, rotating its refresh token, ending it.

A refresh token is spent by a conditional update, so of any number of
concurrent presenters exactly one wins; every other presentation of a spent
token is treated as theft and ends the whole session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.errors import (
    InvalidAccessToken,
    InvalidCredentials,
    InvalidRefreshToken,
    NotFound,
)
from fastapi_auth.kernel.models import AuthSession, User, utcnow
from fastapi_auth.kernel.paging import decode_cursor, encode_cursor
from fastapi_auth.kernel.security_log import SecurityEventType, record_event
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.kernel.tokens import (
    PASSWORD_ONLY,
    AccessTokenCodec,
    hash_refresh_token,
    is_refresh_token_shaped,
    new_refresh_token,
)
from fastapi_auth.sessions.repository import RefreshRotations, Rotation, SessionRepository
from fastapi_auth.sessions.schemas import SessionPage, SessionRead, TokenPair

REVOKED_BY_LOGOUT = "logout"
REVOKED_BY_USER = "revoked"
REVOKED_BY_REUSE = "refresh_reuse"
REVOKED_BY_PASSWORD_CHANGE = "password_changed"
REVOKED_BY_PASSWORD_RESET = "password_reset"
REVOKED_BY_DELETION = "account_deleted"
REVOKED_BY_EMAIL_CHANGE_CANCELLED = "email_change_cancelled"
REVOKED_BY_SESSION_LIMIT = "session_limit"


class RefreshTokenReused(InvalidRefreshToken):
    """Raised after the session was revoked; the revocation must be committed."""

    commit_changes = True


def token_pair(
    access_tokens: AccessTokenCodec,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    refresh: str,
    amr: tuple[str, ...],
) -> TokenPair:
    return TokenPair(
        access_token=access_tokens.issue(user_id, session_id, amr),
        refresh_token=refresh,
        expires_in=access_tokens.lifetime_seconds,
    )


class TokenRotation:
    """`POST /auth/refresh`: a refresh token traded for the next pair, in one transaction
    either way, but not the request's: the common case needs none of its own."""

    def __init__(
        self,
        rotations: RefreshRotations,
        database: Database,
        access_tokens: AccessTokenCodec,
        sessions: Callable[[AsyncSession], SessionService],
    ) -> None:
        self.rotations = rotations
        self.database = database
        self.access_tokens = access_tokens
        self.sessions = sessions

    async def rotate(self, refresh_token: str, client: ClientInfo) -> TokenPair:
        """The common case (an unspent token of a live session) takes one statement on
        PostgreSQL and a share of one transaction on SQLite (`RefreshRotations`). Any other
        token writes nothing there and goes to `SessionService.refuse_rotation`, in a
        unit of work of its own, which decides between a plain 401 and ending the session
        whose spent token came back (theft). Two presenters of one token race the same
        way: one spends it, the other finds it spent."""
        if not is_refresh_token_shaped(refresh_token):
            raise InvalidRefreshToken()
        refresh = new_refresh_token()
        rotation = Rotation(
            token_hash=hash_refresh_token(refresh_token),
            new_hash=hash_refresh_token(refresh),
            now=utcnow(),
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
        rotated = await self.rotations.rotate_if_live(rotation)
        if rotated is None:
            async with self.database.transaction() as session:
                await self.sessions(session).refuse_rotation(refresh_token, client)
        user_id, session_id, amr = rotated
        return token_pair(self.access_tokens, user_id, session_id, refresh, tuple(amr.split()))


class SessionService:
    def __init__(
        self, session: AsyncSession, access_tokens: AccessTokenCodec, settings: Settings
    ) -> None:
        self.session = session
        self.access_tokens = access_tokens
        self.lifetime = timedelta(days=settings.refresh_token_expire_days)
        self.max_per_user = settings.max_sessions_per_user
        self.repository = SessionRepository(session)

    async def start_session(
        self, user: User, stamp: int, client: ClientInfo, amr: tuple[str, ...] = PASSWORD_ONLY
    ) -> tuple[AuthSession, TokenPair]:
        """A new session under the security stamp its credentials were checked under;
        `InvalidCredentials` when a credential change came in between. `amr`: how the
        login proved itself, which every access token of the session will say."""
        now = utcnow()
        refresh = new_refresh_token()
        auth_session = AuthSession(
            id=uuid.uuid4(),
            user_id=user.id,
            user_agent=client.user_agent,
            ip_address=client.ip_address,
            created_at=now,
            last_used_at=now,
            expires_at=now + self.lifetime,
            amr=" ".join(amr),
        )
        if not await self.repository.create_if_current(
            auth_session, hash_refresh_token(refresh), stamp
        ):
            raise InvalidCredentials()
        await self.repository.end_least_recently_used(
            user.id, self.max_per_user, REVOKED_BY_SESSION_LIMIT, now
        )
        return auth_session, token_pair(self.access_tokens, user.id, auth_session.id, refresh, amr)

    async def hold_live(self, user: User, session_id: uuid.UUID) -> None:
        """After the account's row is taken: the calling session must still be live (and
        stays so until the transaction ends), or a logout racing the request would not
        stop what it does; `InvalidAccessToken` otherwise."""
        if not await self.repository.lock_live(session_id, user.id, user.security_stamp, utcnow()):
            raise InvalidAccessToken()

    async def refuse_rotation(self, refresh_token: str, client: ClientInfo) -> NoReturn:
        """Answers a token `RefreshRotations` did not rotate. A spent token of a live
        session coming back means a copy was stolen (the thief's or the rightful client's
        is the replay), so the whole session ends; anything else (unknown, its session
        ended, its user disabled or unverified) is a plain 401. A token spent by a
        concurrent presenter is spent by the time this reads it: the conditional update
        that lost waited for the one that won."""
        found = await self.repository.find_by_refresh_token(hash_refresh_token(refresh_token))
        if found is not None:
            token, auth_session, user = found
            live = (
                auth_session.revoked_at is None
                and auth_session.expires_at > utcnow()
                and auth_session.security_stamp == user.security_stamp
            )
            if live and token.spent_at is not None:
                await self._end_stolen_session(auth_session, client)
                raise RefreshTokenReused()
        raise InvalidRefreshToken()

    async def _end_stolen_session(self, auth_session: AuthSession, client: ClientInfo) -> None:
        if await self.repository.revoke(auth_session.id, REVOKED_BY_REUSE, utcnow()):
            record_event(
                self.session,
                auth_session.user_id,
                SecurityEventType.REFRESH_REUSE_DETECTED,
                client,
                auth_session.id,
            )

    async def logout(self, user: User, refresh_token: str, client: ClientInfo) -> None:
        if not is_refresh_token_shaped(refresh_token):
            raise InvalidRefreshToken()
        found = await self.repository.find_by_refresh_token(hash_refresh_token(refresh_token))
        if found is None or found[1].user_id != user.id:
            raise InvalidRefreshToken()
        await self.revoke_session(user.id, found[1].id, REVOKED_BY_LOGOUT, client)

    async def revoke_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID, reason: str, client: ClientInfo
    ) -> None:
        if await self.repository.revoke(session_id, reason, utcnow()):
            record_event(
                self.session, user_id, SecurityEventType.SESSION_REVOKED, client, session_id
            )

    async def revoke_own_session(
        self, user: User, session_id: uuid.UUID, client: ClientInfo
    ) -> None:
        """Someone else's session id answers 404 like a missing one, so ids cannot be probed."""
        if await self.repository.get_live(user.id, session_id, utcnow()) is None:
            raise NotFound("No such session.")
        await self.revoke_session(user.id, session_id, REVOKED_BY_USER, client)

    async def revoke_all(
        self,
        user_id: uuid.UUID,
        reason: str,
        client: ClientInfo | None,
        keep: uuid.UUID | None = None,
        *,
        log_each: bool = False,
    ) -> Sequence[uuid.UUID]:
        """End every session of a user; `log_each` when ending them is the action itself,
        not the consequence of one (a password change logs only the change)."""
        ended = await self.repository.revoke_all(user_id, reason, utcnow(), keep)
        if log_each:
            for session_id in ended:
                record_event(
                    self.session, user_id, SecurityEventType.SESSION_REVOKED, client, session_id
                )
        return ended

    async def list_sessions(
        self, user: User, current: uuid.UUID, limit: int, cursor: str | None
    ) -> SessionPage:
        """A page, newest first, and the cursor of the next one (None: the last page)."""
        after = decode_cursor(cursor) if cursor else None
        live = await self.repository.list_live(user.id, utcnow(), limit + 1, after)
        page = live[:limit]
        return SessionPage(
            items=[
                SessionRead.model_validate(item).model_copy(update={"current": item.id == current})
                for item in page
            ],
            next_cursor=(
                encode_cursor(page[-1].created_at, page[-1].id) if len(live) > limit else None
            ),
        )

    async def prune(self, batch_size: int, keep_revoked_days: int = 1) -> int:
        now = utcnow()
        return await self.repository.prune_batch(
            now, now - timedelta(days=keep_revoked_days), batch_size
        )
