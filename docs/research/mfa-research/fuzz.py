import json, random, copy, collections
from softauth import SoftAuthenticator
from webauthn import *
from webauthn.helpers import parse_authentication_credential_json, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
RP, O = "localhost", "http://localhost:8000"
ro = generate_registration_options(rp_id=RP, rp_name="x", user_name="u")
rd = json.loads(options_to_json(ro))
a = SoftAuthenticator(); c = a.create(rd, O)
v = verify_registration_response(credential=c, expected_challenge=ro.challenge, expected_origin=O, expected_rp_id=RP)
ao = generate_authentication_options(rp_id=RP); ad = json.loads(options_to_json(ao))
g = a.get(ad, O)
# userHandle oddities
for uh in ["a", "!!!", "", None, 5]:
    x = copy.deepcopy(g); x["response"]["userHandle"] = uh
    try: print("userHandle", repr(uh), "->", parse_authentication_credential_json(x).response.user_handle)
    except Exception as e: print("userHandle", repr(uh), "->", type(e).__name__, e)
random.seed(1)
escaped = collections.Counter()
vals = ["", "a", "AAAA", 5, None, [], {}, "!!", bytes_to_base64url(b"\xa1\x01\x02"), bytes_to_base64url(b'{"type":"webauthn.get"}'), bytes_to_base64url(b"\x00"*37)]
for kind, base in (("reg", c), ("auth", g)):
    for i in range(3000):
        x = copy.deepcopy(base)
        k = random.choice(list(x["response"]) + ["id", "rawId", "type"])
        tgt = x["response"] if k in x["response"] else x
        if random.random() < 0.5 and isinstance(tgt[k], str) and tgt[k]:
            s = list(tgt[k]); s[random.randrange(len(s))] = random.choice("AZaz09-_"); tgt[k] = "".join(s)
            if k in ("id","rawId"): x["id"] = x["rawId"] = tgt[k]
        else:
            tgt[k] = random.choice(vals)
        try:
            if kind == "reg":
                verify_registration_response(credential=x, expected_challenge=ro.challenge, expected_origin=O, expected_rp_id=RP)
            else:
                verify_authentication_response(credential=x, expected_challenge=ao.challenge, expected_origin=O, expected_rp_id=RP, credential_public_key=v.credential_public_key, credential_current_sign_count=0)
        except WebAuthnException: escaped[(kind,"WebAuthnException")] += 1
        except Exception as e: escaped[(kind, type(e).__name__, str(e)[:60])] += 1
        else: escaped[(kind, "accepted")] += 1
for k, n in sorted(escaped.items(), key=str): print(n, k)
