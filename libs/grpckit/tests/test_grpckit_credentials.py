"""JWT via JWKS (RS256 / ES256 from a local HTTP server), token lifetime, key sources."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from grpckit_support import DictEventLog
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_core.context import Principal
from labelops_core.errors import Unauthenticated, Unavailable
from labelops_grpckit import Authenticator, GrpcServer, channel
from labelops_grpckit.auth import KeySource

ISSUER = "https://idp.example.test"
AUDIENCE = "labelops"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
HS_SECRET = "h" * 40


def _jwk(key: Any, kid: str, algorithm: type[Any]) -> dict[str, Any]:
    jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


class _Jwks:
    """A JWKS endpoint on loopback that counts its fetches."""

    def __init__(self) -> None:
        self.fetches = 0
        self.body = json.dumps(
            {
                "keys": [
                    _jwk(RSA_KEY, "rsa-1", jwt.algorithms.RSAAlgorithm),
                    _jwk(EC_KEY, "ec-1", jwt.algorithms.ECAlgorithm),
                ]
            }
        ).encode()
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(jwks.body)))
                self.end_headers()
                self.wfile.write(jwks.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[_Jwks]:
    server = _Jwks()
    yield server
    server.close()


def _auth(jwks: _Jwks, **kwargs: Any) -> Authenticator:
    return Authenticator(jwt_jwks_url=jwks.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE, **kwargs)


def _claims(lifetime: float = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "erin",
        "tenant": "acme",
        "roles": ["reviewer"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + int(lifetime),
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def _bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def _rs256(claims: dict[str, Any], key: Any = RSA_KEY, kid: str = "rsa-1") -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _es256(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})


async def _reason(auth: Authenticator, token: str) -> str:
    with pytest.raises(Unauthenticated) as excinfo:
        await auth.authenticate_async(_bearer(token))
    return excinfo.value.reason


# --- JWKS -----------------------------------------------------------------------------------


async def test_rs256_and_es256_from_jwks_fetched_once(jwks):
    auth = _auth(jwks)
    before = jwks.fetches
    auth.warm()
    assert jwks.fetches == before + 1
    for token in (_rs256(_claims()), _es256(_claims()), _rs256(_claims(sub="fay"))):
        principal = await auth.authenticate_async(_bearer(token))
        assert principal.tenant_id == "acme" and principal.roles == frozenset({"reviewer"})
    assert jwks.fetches == before + 1, "keys are cached, not fetched per call"
    assert auth.configured


async def test_first_token_without_warm_fetches_off_loop(jwks):
    auth = _auth(jwks)
    before = jwks.fetches
    principal = await auth.authenticate_async(_bearer(_es256(_claims())))
    assert principal.subject == "erin"
    assert jwks.fetches == before + 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: jwt.encode(_claims(), HS_SECRET, algorithm="HS256"),
        lambda: jwt.encode(_claims(), None, algorithm="none"),
        lambda: jwt.encode(_claims(), RSA_KEY, algorithm="RS512", headers={"kid": "rsa-1"}),
        # An RSA signature presented under the EC key's kid.
        lambda: _rs256(_claims(), kid="ec-1"),
        lambda: _rs256(_claims(), key=OTHER_RSA_KEY),
        lambda: _rs256(_claims(), kid="unknown-kid"),
        lambda: _rs256(_claims(aud=None)),
        lambda: _rs256(_claims(aud="another-app")),
        lambda: _rs256(_claims(iss=None)),
        lambda: _rs256(_claims(iss="https://evil.example")),
        lambda: _rs256(_claims(iat=None)),
        lambda: _rs256(_claims(lifetime=3601)),
        lambda: jwt.encode(_claims(), RSA_KEY, algorithm="RS256"),  # no kid
    ],
    ids=[
        "hs256-without-secret",
        "alg-none",
        "rs512",
        "alg-key-mismatch",
        "wrong-key",
        "unknown-kid",
        "missing-aud",
        "wrong-aud",
        "missing-iss",
        "wrong-iss",
        "missing-iat",
        "lifetime-over-max",
        "no-kid",
    ],
)
async def test_jwks_refuses(jwks, make):
    assert await _reason(_auth(jwks), make()) == "TOKEN_INVALID"


async def test_expired_jwks_token(jwks):
    token = _rs256(_claims(iat=int(time.time()) - 1200, exp=int(time.time()) - 600))
    assert await _reason(_auth(jwks), token) == "TOKEN_EXPIRED"


async def test_max_lifetime_is_configurable(jwks):
    auth = _auth(jwks, jwt_max_lifetime_s=60)
    assert await _reason(auth, _rs256(_claims(lifetime=120))) == "TOKEN_INVALID"
    assert (await auth.authenticate_async(_bearer(_rs256(_claims(lifetime=60))))).subject


async def test_hs256_and_jwks_side_by_side(jwks):
    auth = _auth(jwks, jwt_secret=HS_SECRET)
    hs = jwt.encode(_claims(sub="hs"), HS_SECRET, algorithm="HS256")
    assert (await auth.authenticate_async(_bearer(hs))).subject == "hs"
    assert (await auth.authenticate_async(_bearer(_rs256(_claims(sub="rs"))))).subject == "rs"
    # HS256 tokens face the same issuer / audience / lifetime rules.
    long_hs = jwt.encode(_claims(lifetime=7200), HS_SECRET, algorithm="HS256")
    assert await _reason(auth, long_hs) == "TOKEN_INVALID"


def test_hs256_lifetime_and_iat_are_enforced_without_jwks():
    auth = Authenticator(jwt_secret=HS_SECRET)
    now = int(time.time())
    ok = jwt.encode({"sub": "a", "tenant": "t", "iat": now, "exp": now + 3600}, HS_SECRET)
    assert auth.authenticate(_bearer(ok)).subject == "a"
    for claims in (
        {"sub": "a", "tenant": "t", "iat": now, "exp": now + 3700},
        {"sub": "a", "tenant": "t", "exp": now + 60},
    ):
        with pytest.raises(Unauthenticated) as excinfo:
            auth.authenticate(_bearer(jwt.encode(claims, HS_SECRET)))
        assert excinfo.value.reason == "TOKEN_INVALID"


async def test_unreachable_jwks_is_unavailable_not_invalid(caplog):
    auth = Authenticator(
        jwt_jwks_url="http://127.0.0.1:9/jwks.json", jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    auth.warm()  # logs, does not raise
    assert "JWKS not fetched" in caplog.text
    with pytest.raises(Unavailable) as excinfo:
        await auth.authenticate_async(_bearer(_rs256(_claims())))
    assert excinfo.value.reason == "CREDENTIALS_UNAVAILABLE"


@pytest.mark.parametrize(
    "env",
    [
        {"LABELOPS_JWT_JWKS_URL": "https://idp.example.test/jwks"},
        {"LABELOPS_JWT_JWKS_URL": "https://idp.example.test/jwks", "LABELOPS_JWT_ISSUER": ISSUER},
        {
            "LABELOPS_JWT_JWKS_URL": "https://idp.example.test/jwks",
            "LABELOPS_JWT_AUDIENCE": AUDIENCE,
        },
    ],
    ids=["neither", "no-audience", "no-issuer"],
)
def test_jwks_without_issuer_and_audience_fails_at_startup(env):
    with pytest.raises(ValueError, match="ISSUER and LABELOPS_JWT_AUDIENCE"):
        Authenticator.from_env(env)


def test_from_env_reads_jwks_and_lifetime(jwks):
    auth = Authenticator.from_env(
        {
            "LABELOPS_JWT_JWKS_URL": jwks.url,
            "LABELOPS_JWT_ISSUER": ISSUER,
            "LABELOPS_JWT_AUDIENCE": AUDIENCE,
            "LABELOPS_JWT_MAX_LIFETIME_S": "30",
        }
    )
    with pytest.raises(Unauthenticated):
        auth.authenticate(_bearer(_rs256(_claims(lifetime=60))))
    assert auth.authenticate(_bearer(_rs256(_claims(lifetime=30)))).subject == "erin"
    with pytest.raises(ValueError, match="MAX_LIFETIME"):
        Authenticator.from_env({"LABELOPS_JWT_MAX_LIFETIME_S": "an hour"})


async def test_grpc_server_accepts_jwks_tokens(jwks, spans):
    server = GrpcServer(host="127.0.0.1", port=0, authenticator=_auth(jwks))
    seen = DictEventLog()
    server.add_service(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        seen,
        "labelops.eventlog.v1.EventLogService",
    )
    async with server:
        async with channel(server.target, bearer_token=_es256(_claims())) as ch:
            await eventlog_pb2_grpc.EventLogServiceStub(ch).ListEvents(
                eventlog_pb2.ListEventsRequest()
            )
    assert seen.seen[-1].principal is not None
    assert seen.seen[-1].principal.subject == "erin"


# --- key sources ----------------------------------------------------------------------------

STORED = Principal("svc-1", "acme", "service", frozenset())


class _SyncSource:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def lookup(self, api_key: str) -> Principal | None:
        self.asked.append(api_key)
        if api_key == "revoked":
            raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
        if api_key == "db-down":
            raise ConnectionError("postgres://u:pw@db refused")
        return STORED if api_key == "stored-key" else None


class _AsyncSource:
    async def lookup(self, api_key: str) -> Principal | None:
        if api_key == "db-down":
            raise OSError("connection reset")
        return STORED if api_key == "stored-key" else None


def _is_key_source(source: KeySource) -> KeySource:
    return source


@pytest.mark.parametrize("source", [_SyncSource, _AsyncSource], ids=["sync", "async"])
async def test_key_source_is_consulted_after_static_keys(source):
    src = _is_key_source(source())
    auth = Authenticator(
        {"static": {"subject": "alice", "tenant_id": "acme", "roles": ["admin"]}}, key_source=src
    )
    assert (await auth.authenticate_async([("x-api-key", "static")])).subject == "alice"
    assert await auth.authenticate_async([("x-api-key", "stored-key")]) == STORED
    with pytest.raises(Unauthenticated) as excinfo:
        await auth.authenticate_async([("x-api-key", "nope")])
    assert excinfo.value.reason == "API_KEY_INVALID"
    with pytest.raises(Unavailable) as unavailable:
        await auth.authenticate_async([("x-api-key", "db-down")])
    assert unavailable.value.reason == "CREDENTIALS_UNAVAILABLE"
    assert "pw@db" not in unavailable.value.message
    assert auth.configured


def test_sync_key_source_works_from_sync_authenticate_and_keeps_its_reason():
    src = _SyncSource()
    auth = Authenticator({"static": {"subject": "a", "tenant_id": "t"}}, key_source=src)
    assert auth.authenticate([("x-api-key", "static")]).subject == "a"
    assert src.asked == [], "a static key never reaches the source"
    assert auth.authenticate([("x-api-key", "stored-key")]) == STORED
    with pytest.raises(Unauthenticated) as excinfo:
        auth.authenticate([("x-api-key", "revoked")])
    assert excinfo.value.reason == "API_KEY_REVOKED"
    assert Authenticator(key_source=src).configured


def test_async_key_source_needs_authenticate_async():
    auth = Authenticator(key_source=_AsyncSource())
    with pytest.raises(RuntimeError, match="authenticate_async"):
        auth.authenticate([("x-api-key", "stored-key")])
