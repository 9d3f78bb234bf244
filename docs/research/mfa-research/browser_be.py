"""Register + usernameless login in headless Chromium with a CDP virtual authenticator,
verified server-side by py_webauthn 3.x. Also renders the TOTP QR SVG and screenshots it.

Run: /tmp/research/bin/python /tmp/research/browser_roundtrip.py
"""

import asyncio
import json
import secrets
import socket
import sys

import pyotp
import segno
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from playwright.async_api import async_playwright

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

HOST = sys.argv[1] if len(sys.argv) > 1 else "localhost"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
ORIGIN = f"http://{HOST}:{PORT}"
RP_ID = HOST

app = FastAPI()
challenges: dict[str, bytes] = {}  # challenge_id -> challenge (single use: pop)
user = {"id": "u1", "handle": secrets.token_bytes(16), "email": "ada@example.com"}
passkeys: dict[bytes, dict] = {}  # credential_id -> record
log: list[str] = []

PAGE = """<!doctype html><meta charset=utf-8><title>t</title><body>
<div id=qr>%s</div>
<script>
async function post(url, body) {
  const r = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'},
                               body: JSON.stringify(body ?? {})});
  const j = await r.json(); if (!r.ok) throw new Error(JSON.stringify(j)); return j;
}
window.register = async () => {
  const {challenge_id, options} = await post('/reg/options');
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
  const cred = await navigator.credentials.create({publicKey});
  return await post('/reg/verify', {challenge_id, credential: cred.toJSON()});
};
window.login = async () => {
  const {challenge_id, options} = await post('/auth/options');
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const cred = await navigator.credentials.get({publicKey});
  return await post('/auth/verify', {challenge_id, credential: cred.toJSON()});
};
</script>"""


@app.get("/", response_class=HTMLResponse)
def page() -> str:
    uri = pyotp.TOTP(pyotp.random_base32()).provisioning_uri(name=user["email"], issuer_name="Example Co")
    log.append(f"QR uri: {uri}")
    return PAGE % segno.make(uri, micro=False).svg_inline(scale=6, light="#fff")


@app.post("/reg/options")
def reg_options() -> dict:
    opts = generate_registration_options(
        rp_id=RP_ID,
        rp_name="Example Co",
        user_id=user["handle"],
        user_name=user["email"],
        user_display_name="Ada",
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in passkeys],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        supported_pub_key_algs=[
            COSEAlgorithmIdentifier.ECDSA_SHA_256,
            COSEAlgorithmIdentifier.EDDSA,
            COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
        ],
        timeout=300_000,
    )
    cid = secrets.token_urlsafe(16)
    challenges[cid] = opts.challenge
    return {"challenge_id": cid, "options": json.loads(options_to_json(opts))}


@app.post("/reg/verify")
def reg_verify(body: dict) -> dict:
    challenge = challenges.pop(body["challenge_id"], None)
    if challenge is None:
        raise HTTPException(400, "bad challenge")
    log.append("toJSON() registration keys: " + json.dumps({k: (list(v) if isinstance(v, dict) else type(v).__name__) for k, v in body["credential"].items()}))
    try:
        v = verify_registration_response(
            credential=body["credential"],
            expected_challenge=challenge,
            expected_origin=[ORIGIN],
            expected_rp_id=RP_ID,
        )
    except Exception as exc:  # noqa: BLE001
        raise HTTPException(400, f"{type(exc).__name__}: {exc}") from exc
    transports = body["credential"]["response"].get("transports", [])
    passkeys[v.credential_id] = {
        "public_key": v.credential_public_key,
        "sign_count": v.sign_count,
        "user_handle": user["handle"],
        "transports": transports,
    }
    return {
        "fmt": v.fmt,
        "sign_count": v.sign_count,
        "aaguid": v.aaguid,
        "uv": v.user_verified,
        "device_type": v.credential_device_type,
        "backed_up": v.credential_backed_up,
        "transports": transports,
        "credential_id": bytes_to_base64url(v.credential_id),
    }


@app.post("/auth/options")
def auth_options() -> dict:
    opts = generate_authentication_options(
        rp_id=RP_ID, allow_credentials=[], user_verification=UserVerificationRequirement.PREFERRED
    )
    cid = secrets.token_urlsafe(16)
    challenges[cid] = opts.challenge
    return {"challenge_id": cid, "options": json.loads(options_to_json(opts))}


@app.post("/auth/verify")
def auth_verify(body: dict) -> dict:
    challenge = challenges.pop(body["challenge_id"], None)
    if challenge is None:
        raise HTTPException(400, "bad challenge")
    try:
        parsed = parse_authentication_credential_json(body["credential"])
        record = passkeys.get(parsed.raw_id)
        if record is None:
            raise HTTPException(401, "unknown credential")
        if parsed.response.user_handle != record["user_handle"]:
            raise HTTPException(401, "userHandle does not match the credential's owner")
        v = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_origin=[ORIGIN],
            expected_rp_id=RP_ID,
            credential_public_key=record["public_key"],
            credential_current_sign_count=record["sign_count"],
        )
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001
        raise HTTPException(401, f"{type(exc).__name__}: {exc}") from exc
    record["sign_count"] = v.new_sign_count
    return {"user": user["id"], "new_sign_count": v.new_sign_count, "uv": v.user_verified,
            "user_handle_b64": bytes_to_base64url(parsed.response.user_handle or b"")}


async def main() -> None:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=PORT, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu"],
            )
            print("chromium version:", browser.version)
            context = await browser.new_context()
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("WebAuthn.enable", {"enableUI": False})
            added = await cdp.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "ctap2Version": "ctap2_1",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                        "automaticPresenceSimulation": True, "defaultBackupEligibility": True, "defaultBackupState": True,
                    }
                },
            )
            auth_id = added["authenticatorId"]
            await page.goto(ORIGIN + "/")
            print("isSecureContext:", await page.evaluate("window.isSecureContext"))
            print("parseCreationOptionsFromJSON:", await page.evaluate("typeof PublicKeyCredential.parseCreationOptionsFromJSON"))
            print("parseRequestOptionsFromJSON:", await page.evaluate("typeof PublicKeyCredential.parseRequestOptionsFromJSON"))
            print("toJSON on PublicKeyCredential:", await page.evaluate("typeof PublicKeyCredential.prototype.toJSON"))
            try:
                print("register ->", await page.evaluate("register()"))
            except Exception as exc:  # noqa: BLE001
                print("register FAILED:", str(exc).splitlines()[0])
                return
            creds = (await cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id}))["credentials"]
            print("CDP getCredentials:", [{k: c[k] for k in ("isResidentCredential", "rpId", "signCount", "userHandle")} for c in creds])
            print("login #1 ->", await page.evaluate("login()"))
            print("login #2 ->", await page.evaluate("login()"))
            try:
                await page.evaluate("register()")
            except Exception as exc:  # noqa: BLE001
                print("register again (excludeCredentials) ->", str(exc).splitlines()[0][:160])
            # Simulate a cloned authenticator: roll the stored counter forward on the server
            for rec in passkeys.values():
                rec["sign_count"] += 100
            try:
                await page.evaluate("login()")
            except Exception as exc:  # noqa: BLE001
                print("login with server counter ahead (clone) ->", str(exc).splitlines()[0][:200])
            await page.locator("#qr svg").screenshot(path="/tmp/research/qr_browser.png")
            print("QR screenshot saved")
            await browser.close()
    finally:
        for line in log:
            print("server log:", line)
        server.should_exit = True
        await task


asyncio.run(main())
