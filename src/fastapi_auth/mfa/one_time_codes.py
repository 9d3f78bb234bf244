"""The codes a person types: authenticator-app codes (RFC 6238 through pyotp) and
recovery codes. Pure functions: which time step a code belongs to, how a recovery code
is made, read back and stored; deciding that a code is spent is the repository's
conditional update."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
import time

import pyotp
import segno

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1
"""A code of the step before or after the server's clock is accepted; two away is not."""
RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 10
"""80 bits each: 16 base32 characters, shown as four groups of four."""
_TOTP_SHAPE = re.compile(r"[0-9]{6}")
_RECOVERY_SHAPE = re.compile(r"[a-z2-7]{16}")


def new_totp_secret() -> str:
    """160 bits, base32: what RFC 4226 recommends for HMAC-SHA1."""
    return pyotp.random_base32(length=32)


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """An SVG of the URI, drawn by segno: with its namespace (so it also works as an
    image's data URI) and without an XML declaration (so a page can put it inline)."""
    out = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(
        out,
        kind="svg",
        scale=4,
        border=2,
        xmldecl=False,
        svgclass=None,
        lineclass=None,
        light="#fff",
        title="Scan with your authenticator app",
    )
    return out.getvalue().decode()


def is_totp_shaped(code: str) -> bool:
    return _TOTP_SHAPE.fullmatch(code) is not None


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (a counter of 30-second periods) within the drift allowed whose
    code `code` is, newest first; None for a code of no such step. Compared in constant
    time."""
    if not is_totp_shaped(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    current = int((time.time() if now is None else now) // TOTP_STEP_SECONDS)
    for step in range(current + TOTP_DRIFT_STEPS, current - TOTP_DRIFT_STEPS - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    return codes


def normalized_recovery_code(code: str) -> str | None:
    """Typed back with or without its dashes, in any case, with stray spaces: the same
    code. None for anything that cannot be one."""
    folded = re.sub(r"[\s-]", "", code).lower()
    return folded if _RECOVERY_SHAPE.fullmatch(folded) else None


def recovery_code_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()
