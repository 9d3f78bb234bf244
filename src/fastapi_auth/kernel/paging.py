"""Keyset paging: one cursor scheme for every list that grows (the security log, the
sessions list).

A cursor names the last item of a page by its ordering time and its id (the id breaks
ties between items of one instant), so the next page starts right after it however many
items arrived meanwhile. It is opaque to clients, not secret: base64 of the two values.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, or_
from sqlalchemy.orm import InstrumentedAttribute

from fastapi_auth.kernel.errors import InvalidCursor

S = TypeVar("S", bound=Select[Any])


def encode_cursor(moment: datetime, item_id: uuid.UUID) -> str:
    raw = f"{moment.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment_text, _, item_id = raw.partition("|")
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            raise ValueError("naive cursor time")
        return moment.astimezone(UTC), uuid.UUID(item_id)
    except (ValueError, OverflowError) as error:
        raise InvalidCursor() from error


def newest_first(
    statement: S,
    moment: InstrumentedAttribute[datetime],
    item_id: InstrumentedAttribute[uuid.UUID],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> S:
    """One page of `statement`, newest `moment` first, starting after the item `after`
    names (a decoded cursor)."""
    if after is not None:
        last_moment, last_id = after
        statement = statement.where(
            or_(moment < last_moment, (moment == last_moment) & (item_id < last_id))
        )
    return statement.order_by(moment.desc(), item_id.desc()).limit(limit)
