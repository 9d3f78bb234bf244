import time, pyotp
from pyotp.exceptions import OTPVerificationError

secret = pyotp.random_base32()            # 32 chars = 160 bits, from secrets.SystemRandom
print("secret", secret, len(secret))
totp = pyotp.TOTP(secret, digits=6, interval=30)   # SHA-1 default
uri = totp.provisioning_uri(name="ada@example.com", issuer_name="Example Co")
print(uri)
print(pyotp.TOTP(secret).provisioning_uri(name="a+b c@example.com", issuer_name="Acme: Inc & Co"))
print("parse_uri roundtrip:", pyotp.parse_uri(uri).secret == secret)

def match_step(totp: pyotp.TOTP, code: str, now: float, window: int = 1) -> int | None:
    """The time step (counter) `code` belongs to within ±window, else None."""
    try:
        return totp.verify_and_get_timecode(code, for_time=now, valid_window=window)
    except OTPVerificationError:
        return None

def match_step_portable(totp: pyotp.TOTP, code: str, now: float, window: int = 1) -> int | None:
    """Same, for pyotp < 2.11 (no verify_and_get_timecode); checks every step, no early exit."""
    import hmac
    base = totp.timecode(now)
    hit = None
    for step in range(base - window, base + window + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            hit = step if hit is None else hit
    return hit

def accept(totp, code, last_step, now):
    """Returns the new last_step, or None if refused (wrong or replayed)."""
    step = match_step(totp, code, now)
    if step is None or (last_step is not None and step <= last_step):
        return None
    return step   # persist atomically: UPDATE ... SET last_step=:step WHERE id=:id AND (last_step IS NULL OR last_step < :step)

now = time.time()
step_now = totp.timecode(now)
prev_code = totp.at(now, counter_offset=-1)      # == totp.generate_otp(step_now - 1)
next_code = totp.at(now + 30)
print("step_now", step_now, "now", totp.now(), "prev", prev_code, "next", next_code)
print("verify default window (0) prev:", totp.verify(prev_code, for_time=now))
print("verify valid_window=1 prev:", totp.verify(prev_code, for_time=now, valid_window=1))
print("verify valid_window=1 two back:", totp.verify(totp.at(now, counter_offset=-2), for_time=now, valid_window=1))
print("match prev ->", match_step(totp, prev_code, now) - step_now, " portable:", match_step_portable(totp, prev_code, now) - step_now)
print("match next ->", match_step(totp, next_code, now) - step_now)
print("match wrong ->", match_step(totp, "000000" if totp.now() != "000000" else "111111", now))
last = accept(totp, totp.now(), None, now); print("first accept ->", last - step_now)
print("replay same code ->", accept(totp, totp.now(), last, now))
print("earlier step's code after a later one ->", accept(totp, prev_code, last, now))
print("next step code ->", accept(totp, next_code, last, now) - step_now)
try: totp.verify(totp.now(), 1)
except TypeError as e: print("positional valid_window:", e)
print("int code:", totp.verify(int(totp.now()) if not totp.now().startswith('0') else totp.now(), for_time=now))
print("fullwidth digits accepted (NFKC):", totp.verify("".join(chr(0xFF10 + int(d)) for d in totp.now()), for_time=now))
print("code with space:", totp.verify(totp.now()[:3] + " " + totp.now()[3:], for_time=now))
try: pyotp.TOTP("JBSWY3DPEHPK3PXP")
except ValueError as e: print("16-char secret:", e)
try: pyotp.TOTP("not base32!!")
except Exception as e: print("bad secret:", type(e).__name__, e)
# RFC 6238 SHA-1 test vector (8 digits, T=59)
import base64
rfc = pyotp.TOTP(base64.b32encode(b"12345678901234567890").decode(), digits=8)
print("RFC vector 59 ->", rfc.at(59), "(expect 94287082)")
