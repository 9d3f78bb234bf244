import json
import time

from softauth import SoftAuthenticator
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

RP_ID, ORIGIN = "localhost", "http://localhost:8000"
ORIGINS = [ORIGIN, "https://app.example.com"]
user_handle = b"\x01" * 16  # e.g. uuid.UUID(...).bytes, or secrets.token_bytes(32)


def show(label, fn):
    try:
        r = fn()
        print(f"{label}: OK -> {r}")
    except Exception as exc:  # noqa: BLE001
        print(f"{label}: {type(exc).__name__}: {exc}  (isWebAuthnException={isinstance(exc, WebAuthnException)})")


# ---------- registration ----------
reg_opts = generate_registration_options(
    rp_id=RP_ID,
    rp_name="Example",
    user_id=user_handle,
    user_name="ada@example.com",
    user_display_name="Ada Lovelace",
    exclude_credentials=[
        PublicKeyCredentialDescriptor(id=b"old-cred", transports=[AuthenticatorTransport.INTERNAL])
    ],
    authenticator_selection=AuthenticatorSelectionCriteria(
        resident_key=ResidentKeyRequirement.PREFERRED,
        user_verification=UserVerificationRequirement.PREFERRED,
    ),
    timeout=300_000,
    attestation=AttestationConveyancePreference.NONE,
    supported_pub_key_algs=[
        COSEAlgorithmIdentifier.ECDSA_SHA_256,
        COSEAlgorithmIdentifier.EDDSA,
        COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
    ],
)
reg_json = options_to_json(reg_opts)
print("options_to_json(registration) =", reg_json)
reg_dict = json.loads(reg_json)

auth = SoftAuthenticator()
cred = auth.create(reg_dict, ORIGIN)
t = time.perf_counter()
verified = verify_registration_response(
    credential=cred,  # dict works; so does json.dumps(cred)
    expected_challenge=reg_opts.challenge,
    expected_origin=ORIGINS,  # list allowed
    expected_rp_id=RP_ID,
    require_user_verification=False,
)
print(f"verify_registration_response took {1000*(time.perf_counter()-t):.2f} ms")
print("VerifiedRegistration:", {k: (v if not isinstance(v, bytes) else f"<{len(v)} bytes>") for k, v in vars(verified).items()})
show("register, str credential", lambda: verify_registration_response(credential=json.dumps(cred), expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID).sign_count)

# transports are not in VerifiedRegistration -> parse them yourself
from webauthn.helpers import parse_registration_credential_json

print("transports:", parse_registration_credential_json(cred).response.transports)

# ---- registration failures ----
show("reg wrong origin", lambda: verify_registration_response(credential=auth.create(reg_dict, "https://evil.example"), expected_challenge=reg_opts.challenge, expected_origin=ORIGINS, expected_rp_id=RP_ID))
show("reg wrong rp id", lambda: verify_registration_response(credential=auth.create(reg_dict, ORIGIN, rp_id="evil.example"), expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID))
show("reg wrong challenge", lambda: verify_registration_response(credential=cred, expected_challenge=b"x" * 64, expected_origin=ORIGIN, expected_rp_id=RP_ID))
show("reg origin as set (pitfall)", lambda: verify_registration_response(credential=cred, expected_challenge=reg_opts.challenge, expected_origin=set(ORIGINS), expected_rp_id=RP_ID))
show("reg origin as tuple", lambda: verify_registration_response(credential=cred, expected_challenge=reg_opts.challenge, expected_origin=tuple(ORIGINS), expected_rp_id=RP_ID).sign_count)
noUV = SoftAuthenticator(user_verified=False)
show("reg UV required but absent", lambda: verify_registration_response(credential=noUV.create(reg_dict, ORIGIN), expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID, require_user_verification=True))
show("reg garbage json string", lambda: verify_registration_response(credential="{not json", expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID))
show("reg missing rawId", lambda: verify_registration_response(credential={"id": "x", "response": {}, "type": "public-key"}, expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID))
show("reg bad b64 attestationObject", lambda: verify_registration_response(credential={**cred, "response": {**cred["response"], "attestationObject": "!!!"}}, expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID))
show("reg list credential", lambda: verify_registration_response(credential=[1], expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID))

# A COSE key missing 'alg' inside a correctly-formed attestationObject
import cbor2, hashlib, struct
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

def bad_cose_cred():
    c = auth.create(reg_dict, ORIGIN)
    ao = cbor2.loads(base64url_to_bytes(c["response"]["attestationObject"]))
    ad = ao["authData"]
    head = ad[: 37 + 16]
    (ln,) = struct.unpack(">H", ad[53:55])
    cid = ad[55 : 55 + ln]
    cose = cbor2.loads(ad[55 + ln :])
    del cose[3]
    ao["authData"] = head + ad[53:55] + cid + cbor2.dumps(cose)
    c["response"]["attestationObject"] = bytes_to_base64url(cbor2.dumps(ao))
    return c

show("reg COSE key without alg", lambda: verify_registration_response(credential=bad_cose_cred(), expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID))

# ---------- authentication (usernameless) ----------
stored_pk, stored_count = verified.credential_public_key, verified.sign_count
auth_opts = generate_authentication_options(
    rp_id=RP_ID, allow_credentials=[], user_verification=UserVerificationRequirement.PREFERRED, timeout=300_000
)
auth_json = options_to_json(auth_opts)
print("options_to_json(authentication) =", auth_json)
auth_dict = json.loads(auth_json)
assertion = auth.get(auth_dict, ORIGIN)
parsed = parse_authentication_credential_json(assertion)
print("userHandle bytes:", parsed.response.user_handle, "raw_id==cred id:", parsed.raw_id == verified.credential_id)
t = time.perf_counter()
va = verify_authentication_response(
    credential=assertion,
    expected_challenge=auth_opts.challenge,
    expected_rp_id=RP_ID,
    expected_origin=ORIGINS,
    credential_public_key=stored_pk,
    credential_current_sign_count=stored_count,
    require_user_verification=False,
)
print(f"verify_authentication_response took {1000*(time.perf_counter()-t):.2f} ms")
print("VerifiedAuthentication:", va)
stored_count = va.new_sign_count

def auth_case(label, assertion, *, count=None, pk=None, origin=ORIGINS, rp=RP_ID, challenge=None, uv=False):
    show(label, lambda: verify_authentication_response(credential=assertion, expected_challenge=challenge or auth_opts.challenge, expected_rp_id=rp, expected_origin=origin, credential_public_key=pk or stored_pk, credential_current_sign_count=stored_count if count is None else count, require_user_verification=uv).new_sign_count)

auth_case("auth wrong origin", auth.get(auth_dict, "https://evil.example"))
auth_case("auth wrong rp id", auth.get(auth_dict, ORIGIN, rp_id="evil.example", credential_id=verified.credential_id))
auth_case("auth wrong challenge", auth.get(auth_dict, ORIGIN), challenge=b"y" * 64)
auth_case("auth counter lower (clone)", auth.get(auth_dict, ORIGIN, sign_count=1))
auth_case("auth counter equal", auth.get(auth_dict, ORIGIN, sign_count=stored_count))
auth_case("auth counter 0 when stored>0", auth.get(auth_dict, ORIGIN, sign_count=0))
# tampered signature (valid DER from another key) and garbage signature
a = auth.get(auth_dict, ORIGIN)
other = SoftAuthenticator(); other.create(reg_dict, ORIGIN)
b = other.get(auth_dict, ORIGIN)
a_bad = {**a, "response": {**a["response"], "signature": b["response"]["signature"]}}
auth_case("auth signature from other key", a_bad)
a_garbage = {**a, "response": {**a["response"], "signature": bytes_to_base64url(b"garbage")}}
auth_case("auth non-DER signature", a_garbage)
# forged assertion with bad signature AND low counter: which error wins?
a_low = auth.get(auth_dict, ORIGIN, sign_count=1)
a_low_bad = {**a_low, "response": {**a_low["response"], "signature": b["response"]["signature"]}}
auth_case("auth bad sig + low counter (order of checks)", a_low_bad)
auth_case("auth bad sig + low counter, passing stored=0", a_low_bad, count=0)
auth_case("auth good, passing stored=0 (library counter check disabled)", auth.get(auth_dict, ORIGIN, sign_count=1), count=0)
noUVa = SoftAuthenticator(user_verified=False)
r = noUVa.create(reg_dict, ORIGIN)
vr = verify_registration_response(credential=r, expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID)
auth_case("auth UV required but absent", noUVa.get(auth_dict, ORIGIN), pk=vr.credential_public_key, count=0, uv=True)
auth_case("auth with a registration credential", cred)

# ---------- zero-counter authenticator (Apple/Google passkeys) ----------
z = SoftAuthenticator(counter_step=0, backup_eligible=True, backed_up=True)
zr = verify_registration_response(credential=z.create(reg_dict, ORIGIN), expected_challenge=reg_opts.challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID)
print("zero-counter reg:", zr.sign_count, zr.credential_device_type, zr.credential_backed_up)
for i in range(2):
    auth_case(f"zero-counter auth #{i}", z.get(auth_dict, ORIGIN), pk=zr.credential_public_key, count=0)
