import base64, hashlib, hmac, os, secrets
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

def derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"fastapi-auth/" + purpose).derive(master.encode())

enc_key = derive("JWT_SECRET or MFA_ENCRYPTION_KEY value", b"totp-secret-v1")
def encrypt_secret(secret: str, user_id: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(enc_key).encrypt(nonce, secret.encode(), user_id.encode())).decode()  # AAD = user id
def decrypt_secret(blob: str, user_id: str) -> str:
    raw = base64.b64decode(blob)
    return AESGCM(enc_key).decrypt(raw[:12], raw[12:], user_id.encode()).decode()
b = encrypt_secret("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "u1")
print(len(b), decrypt_secret(b, "u1"))
try: decrypt_secret(b, "u2")
except Exception as e: print("wrong AAD ->", type(e).__name__)

# recovery codes: 10 codes, 16 base32 chars = 80 bits, shown as xxxx-xxxx-xxxx-xxxx
rc_key = derive("JWT_SECRET or MFA_ENCRYPTION_KEY value", b"recovery-code-v1")
ALPH = "abcdefghijkmnpqrstuvwxyz23456789"   # 32 symbols, no l/o/0/1
def new_code() -> str:
    raw = "".join(secrets.choice(ALPH) for _ in range(16))
    return "-".join(raw[i:i+4] for i in range(0, 16, 4))
def normalize(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch in ALPH)
def code_hash(code: str) -> str:
    return hmac.new(rc_key, normalize(code).encode(), hashlib.sha256).hexdigest()
codes = [new_code() for _ in range(10)]
print(codes[:2], code_hash(codes[0])[:16], code_hash(codes[0].upper().replace("-", " ")) == code_hash(codes[0]))
