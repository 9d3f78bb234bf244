"""Who is calling: the client IP (proxy-aware, spoof-resistant) and user agent."""

from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from fastapi import Depends, Request

from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.settings import Settings

MAX_USER_AGENT = 512
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None
    user_agent: str | None


@cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[str, ...]) -> str | None:
    """The socket peer, unless it is a trusted proxy: then the nearest untrusted hop of
    `X-Forwarded-For`, read from the right so a client cannot prepend a fake address."""
    if peer is None or not trusted or not forwarded_for or not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer


def printable_user_agent(header: str | None) -> str | None:
    """Stored and shown in the sessions list: no control characters (PostgreSQL refuses
    NUL), and a bounded length."""
    if not header:
        return None
    text = "".join(char for char in header if unicodedata.category(char) != "Cc")
    return text[:MAX_USER_AGENT] or None


async def get_client(request: Request) -> ClientInfo:
    trusted = tuple(components_of(request.app).get(Settings).trusted_proxies)
    peer = request.client.host if request.client else None
    return ClientInfo(
        ip_address=client_ip(peer, request.headers.get("x-forwarded-for"), trusted),
        user_agent=printable_user_agent(request.headers.get("user-agent")),
    )


ClientDep = Annotated[ClientInfo, Depends(get_client)]
