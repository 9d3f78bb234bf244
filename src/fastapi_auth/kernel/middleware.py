"""Pure ASGI middleware: security headers and a request-body size cap.

Pure ASGI rather than `BaseHTTPMiddleware`, so each costs a function call per
message, not a task per request.
"""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_auth.kernel.client import is_trusted
from fastapi_auth.kernel.page_policy import PAGE_CSP

DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
BASELINE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Every API answer may carry a token or personal data (RFC 6749 5.1 asks both of token
responses); only the docs and static files may be cached."""


def served_over_https(scope: Scope, trusted_proxies: tuple[str, ...]) -> bool:
    """The socket's scheme, or the `X-Forwarded-Proto` of a TLS-terminating trusted proxy."""
    if scope.get("scheme") == "https":
        return True
    peer = scope.get("client")
    if not trusted_proxies or not peer or not is_trusted(peer[0], trusted_proxies):
        return False
    proto: bytes = dict(scope["headers"]).get(b"x-forwarded-proto", b"")
    return proto.split(b",")[-1].strip().lower() == b"https"


class SecurityHeadersMiddleware:
    """`cacheable`: path prefixes whose answers may be cached (docs, static files); an
    HTML answer there (the docs) keeps its own policy."""

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: tuple[str, ...] = (),
        page_csp: str = PAGE_CSP,
        cacheable: tuple[str, ...] = DOCS_PATHS,
    ) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies
        self.page_csp = page_csp
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(self.cacheable)
        https = served_over_https(scope, self.trusted_proxies)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASELINE_HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    for name, value in NO_STORE_HEADERS.items():
                        headers.setdefault(name, value)
                    if headers.get("content-type", "").startswith("text/html"):
                        headers.setdefault("Content-Security-Policy", self.page_csp)
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_HEADER_BYTES = 16 * 1024
"""Request headers in all (names and values): what a browser sends is a few KiB, and a
server should not carry megabytes of them through every layer (see README, "What to put
in front": a proxy refuses them before they are even read)."""


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413, by `Content-Length` or as they stream in,
    and headers over `MAX_HEADER_BYTES` with 431."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(send)
                    return
        if header_bytes > MAX_HEADER_BYTES:
            await _answer(send, 431, "The request's headers are too large.", "HEADERS_TOO_LARGE")
            return
        received = 0
        exceeded = response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            """Once the cap is hit, whatever the app makes of the cut-off body (FastAPI turns
            a failed read into 400) is dropped for the 413."""
            nonlocal response_started
            if exceeded and not response_started:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        detail = f"The request body exceeds {self.max_bytes} bytes."
        await _answer(send, 413, detail, "PAYLOAD_TOO_LARGE")


async def _answer(send: Send, status: int, detail: str, code: str) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
