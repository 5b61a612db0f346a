"""JWT encoding and verification, checked against a token made by nsc (from the NATS docs)."""

from __future__ import annotations

import base64
import json

import pytest

from core.nats import jwt, nkey

# A user JWT printed by `nsc` in the NATS documentation (public example, no secret attached).
NSC_USER_JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."
    "eyJqdGkiOiI0NUc3MkhIQUVCRFBQV05ZWktMTUhQNUFYWFRSSUVDQlNVQUI2VDZRUjdVM1JZUFZaM05BIiwiaWF0IjoxNjM1Mz"
    "c1NTYxLCJpc3MiOiJBRDJNMzRXQk5HUUZZSzM3SURYNTNEUFJHNzRSTExUN0ZGV0JPQk1CVVhNQVZCQ1ZBVTVWS1dJWSIsIm5h"
    "bWUiOiJNeVVzZXIiLCJzdWIiOiJVQVdCWExTWlZaSE5ESVVSWTUyRjZXRVRGQ0ZaTFhZVUVGSkFIUlhEVzdEMks0NDQ1SVk0Ql"
    "ZYUCIsIm5hdHMiOnsicHViIjp7fSwic3ViIjp7fSwic3VicyI6LTEsImRhdGEiOi0xLCJwYXlsb2FkIjotMSwidHlwZSI6InVz"
    "ZXIiLCJ2ZXJzaW9uIjoyfX0."
    "CGymhGYHfdZyhUeucxNs9TthSjy_27LVZikqxvm-pPLili8KNe1xyOVnk_w-xPWdrCx_t3Se2lgXmoy3wBcVCw"
)


def _parts(token: str) -> list[str]:
    return token.split(".")


def _payload(token: str) -> dict:
    part = _parts(token)[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_nsc_token_verifies_and_our_serialisation_is_byte_identical() -> None:
    claims = jwt.decode(NSC_USER_JWT, kind="user")
    assert claims["name"] == "MyUser"
    assert jwt._jti(claims) == claims["jti"]  # same jti algorithm as nats-io/jwt
    ours = jwt.user_claims("MyUser", claims["sub"]) | {k: claims[k] for k in ("iss", "iat", "jti")}
    assert jwt._b64(jwt.payload_json(ours).encode()) == _parts(NSC_USER_JWT)[1]
    assert jwt._b64(jwt._go_json(jwt.HEADER).encode()) == _parts(NSC_USER_JWT)[0]


def test_encode_decode_roundtrip_sets_issuer_time_and_jti() -> None:
    account = nkey.new_seed("account")
    user = nkey.public_key(nkey.new_seed("user"))
    token = jwt.encode(jwt.user_claims("u", user, pub_allow=["a.>"], expires_at=2000), account, now=1000)
    claims = jwt.decode(token, kind="user")
    assert claims["iss"] == nkey.public_key(account)
    assert (claims["iat"], claims["exp"], claims["sub"]) == (1000, 2000, user)
    assert claims["nats"]["pub"] == {"allow": ["a.>"]} and claims["nats"]["sub"] == {}
    assert claims["nats"]["version"] == 2 and claims["nats"]["subs"] == -1
    assert claims["jti"] == jwt._jti(claims)


def test_go_escaping_of_angle_brackets() -> None:
    user = nkey.public_key(nkey.new_seed("user"))
    token = jwt.encode(jwt.user_claims("u", user, sub_allow=["_INBOX.>"]), nkey.new_seed("account"))
    raw = base64.urlsafe_b64decode(_parts(token)[1] + "==").decode()
    assert "_INBOX.\\u003e" in raw
    assert jwt.decode(token)["nats"]["sub"]["allow"] == ["_INBOX.>"]


def test_account_claims_enable_jetstream_only_when_asked() -> None:
    pub = nkey.public_key(nkey.new_seed("account"))
    on = jwt.account_claims("app", pub, jetstream=True)["nats"]["limits"]
    off = jwt.account_claims("SYS", pub, jetstream=False)["nats"]["limits"]
    assert on["disk_storage"] == -1 and on["mem_storage"] == -1
    assert "disk_storage" not in off and off["conn"] == -1


def _resign(payload: dict, seed: str) -> str:
    head = jwt._b64(jwt._go_json(jwt.HEADER).encode())
    body = jwt._b64(jwt._go_json(payload).encode())
    return f"{head}.{body}.{jwt._b64(nkey.sign(seed, f'{head}.{body}'.encode()))}"


def _self_signed_user(token: str) -> str:
    user = nkey.new_seed("user")
    return _resign({**_payload(token), "iss": nkey.public_key(user)}, user)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda t, s: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), "signature"),
        (lambda t, s: ".".join([_parts(t)[0], jwt._b64(b'{"nats":{"version":2}}'), _parts(t)[2]]), "user"),
        (lambda t, s: _parts(t)[0] + "." + _parts(t)[1], "3 dot-separated"),
        (
            lambda t, s: _resign({**_payload(t), "nats": {**_payload(t)["nats"], "version": 1}}, s),
            "version 2",
        ),
        (lambda t, s: _self_signed_user(t), "issued by an account"),
        (
            lambda t, s: ".".join(
                [_parts(t)[0], _parts(_resign({**_payload(t), "name": "x"}, s))[1], _parts(t)[2]]
            ),
            "signature",
        ),
    ],
    ids=["bad-signature", "wrong-kind", "two-parts", "v1-token", "user-issued-user", "payload-swapped"],
)
def test_decode_rejects(mangle, message) -> None:  # type: ignore[no-untyped-def]
    seed = nkey.new_seed("account")
    token = jwt.encode(jwt.user_claims("u", nkey.public_key(nkey.new_seed("user"))), seed)
    with pytest.raises(jwt.JwtError, match=message):
        jwt.decode(mangle(token, seed), kind="user")


def test_check_times() -> None:
    jwt.check_times({"exp": 100, "nbf": 50}, now=75)
    with pytest.raises(jwt.JwtError, match="expired"):
        jwt.check_times({"exp": 100}, now=101)
    with pytest.raises(jwt.JwtError, match="not valid yet"):
        jwt.check_times({"nbf": 100}, now=99)


def test_nkeys_kinds_and_verification() -> None:
    seed = nkey.new_seed("operator")
    pub = nkey.public_key(seed)
    assert seed.startswith("SO") and len(seed) == 58 and pub.startswith("O") and len(pub) == 56
    assert nkey.seed_kind(seed) == "operator"
    assert nkey.is_public_key(pub, "operator") and not nkey.is_public_key(pub, "account")
    assert not nkey.is_public_key(pub[:-1] + ("A" if pub[-1] != "A" else "B"), "operator")  # CRC
    sig = nkey.sign(seed, b"data")
    assert nkey.verify(pub, b"data", sig) and not nkey.verify(pub, b"other", sig)
