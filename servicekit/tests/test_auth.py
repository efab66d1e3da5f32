"""Entra ID tokens: who gets in, who gets 401, who gets 403, and what happens when Entra is away."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import httpx
import httpx2
import pytest
import structlog
from connexion.exceptions import OAuthProblem
from connexion.lifecycle import ConnexionRequest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from servicekit.auth.security import RETRY_KEYS_AFTER_SECONDS, bearer_info
from servicekit.auth.signing_keys import FETCH_TIMEOUT_SECONDS, SigningKeys
from servicekit.auth.tokens import LEEWAY_SECONDS, TokenValidator
from servicekit.parts import STATE_KEY, Parts
from servicekit.testing import API_CLIENT_ID, API_URI, FakeClock, FakeEntra, LiveServer, assert_problem
from tests.fixture_service import FixtureSettings, create_app

READ = ["Fixture.Read"]


def assert_unauthenticated(response: httpx2.Response, reason: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- Who gets in -------------------------------------------------------------------------------------


def test_an_app_token_with_the_role_gets_in(client: TestClient, auth_headers: Callable[..., dict[str, str]]) -> None:
    response = client.get("/caller", headers=auth_headers(roles=READ))
    assert response.status_code == 200
    assert response.json() == {
        "object_id": "00000000-0000-4000-8000-000000000001",
        "app_id": "swagger-ui-client",
        "name": "Staff Member",
        "roles": ["Fixture.Read"],
        "scopes": [],
    }


def test_a_user_token_with_the_delegated_scope_gets_in(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/caller", headers=bearer(make_token(scp="openid Fixture.Read")))
    assert response.status_code == 200
    assert response.json()["scopes"] == ["Fixture.Read", "openid"]


def test_the_app_id_uri_is_an_accepted_audience(client: TestClient, make_token: Callable[..., str]) -> None:
    assert client.get("/caller", headers=bearer(make_token(aud=API_URI, roles=READ))).status_code == 200


def test_clock_skew_within_a_minute_is_tolerated(client: TestClient, make_token: Callable[..., str]) -> None:
    now = int(time.time())
    token = make_token(roles=READ, iat=now + 30, nbf=now + 30, exp=now - 30 + 3600)
    assert client.get("/caller", headers=bearer(token)).status_code == 200


# --- The negative suite: 401 -------------------------------------------------------------------------


def test_no_header(client: TestClient) -> None:
    assert_unauthenticated(client.get("/caller"), "No authorization token provided")


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNz", "Bearer a b"])
def test_malformed_header(client: TestClient, header: str) -> None:
    assert client.get("/caller", headers={"Authorization": header}).status_code == 401


def test_garbage_token(client: TestClient) -> None:
    assert_unauthenticated(client.get("/caller", headers=bearer("not-a-jwt")), "Invalid token")


def test_alg_none(client: TestClient, make_token: Callable[..., str]) -> None:
    _header, payload, _signature = make_token(roles=READ).split(".")
    forged = f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."
    assert_unauthenticated(client.get("/caller", headers=bearer(forged)), "must be signed with RS256")


def test_hs256_signed_with_the_public_key(client: TestClient, fake_entra: FakeEntra) -> None:
    """The classic algorithm confusion: an HMAC 'signature' keyed with the published RSA key."""
    public_pem = (
        fake_entra.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    _header, payload, _signature = fake_entra.make_token(roles=READ).split(".")
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": fake_entra.keys[0].kid}).encode())
    signature = b64url(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    forged = f"{header}.{payload}.{signature}"
    assert_unauthenticated(client.get("/caller", headers=bearer(forged)), "must be signed with RS256")


def test_signed_by_a_key_the_tenant_does_not_publish(client: TestClient, fake_entra: FakeEntra) -> None:
    token = fake_entra.make_token(key=fake_entra.forged_key(), roles=READ)  # a real kid, another key
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "Signature verification failed")


def test_expired(client: TestClient, make_token: Callable[..., str]) -> None:
    now = int(time.time())
    token = make_token(roles=READ, iat=now - 7200, nbf=now - 7200, exp=now - 120)
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "Signature has expired: sign in again")


def test_not_yet_valid(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(roles=READ, nbf=int(time.time()) + 600)
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "The token is not yet valid")


def test_wrong_audience(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(roles=READ, aud="https://graph.microsoft.com")
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "Audience doesn't match")


def test_wrong_issuer(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(roles=READ, iss="https://login.microsoftonline.com/another-tenant/v2.0")
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "Invalid issuer")


def test_wrong_tenant(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(roles=READ, tid="another-tenant")
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "issued for another tenant")


@pytest.mark.parametrize("claim", ["exp", "iat", "tid"])
def test_a_required_claim_missing(client: TestClient, make_token: Callable[..., str], claim: str) -> None:
    token = make_token(roles=READ, **{claim: None})
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), f'Token is missing the "{claim}" claim')


def test_a_token_naming_no_caller(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(roles=READ, oid=None, sub=None)
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "names no caller")


@pytest.mark.parametrize(
    ("claims", "named"),
    [
        ({"roles": ["Fixture.Read", 7]}, "'roles.1'"),
        ({"roles": "Fixture.Read"}, "'roles'"),
        ({"exp": str(int(time.time()) + 3600)}, "'exp'"),
        ({"exp": [int(time.time()) + 3600]}, "'exp'"),
        ({"exp": float("inf")}, "'exp'"),
        ({"exp": True}, "'exp'"),
        ({"iat": {"at": 0}}, "'iat'"),
        ({"nbf": "0"}, "'nbf'"),
        ({"oid": 42}, "'oid'"),
        ({"oid": None, "sub": ["staff"]}, "'sub'"),
        ({"scp": ["Fixture.Read"]}, "'scp'"),
        ({"name": {"first": "Staff"}}, "'name'"),
        ({"azp": 1}, "'azp'"),
        ({"tid": 7}, "'tid'"),
        ({"iss": ["https://login.microsoftonline.com/"]}, "'iss'"),
        ({"aud": 1}, "'aud'"),
    ],
)
def test_a_validly_signed_claim_of_the_wrong_type_is_refused(
    client: TestClient, make_token: Callable[..., str], claims: dict[str, object], named: str
) -> None:
    """Signed by the tenant's key, yet malformed: a 401 naming the claim (not its value), never a 500."""
    response = client.get("/caller", headers=bearer(make_token(**({"roles": READ} | claims))))
    assert_unauthenticated(response, f"claim {named} is malformed")


@pytest.mark.parametrize("kid", [7, ["a-kid"], {"kid": "a-kid"}])
def test_a_key_id_of_the_wrong_type_is_refused(client: TestClient, fake_entra: FakeEntra, kid: object) -> None:
    """Signed by hand: PyJWT will not sign such a header."""
    _header, payload, _signature = fake_entra.make_token(roles=READ).split(".")
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(f"{header}.{payload}".encode(), fake_entra.keys[0].private)
    token = f"{header}.{payload}.{b64url(signature)}"
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "Key ID header parameter must be a string")


def test_unknown_kid(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(roles=READ, headers={"kid": "no-such-key"})
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "is not one the tenant publishes")


def test_v1_tokens_are_refused_unless_allowed(client: TestClient, fake_entra: FakeEntra, make_settings) -> None:
    v1 = fake_entra.make_token(roles=READ, iss=f"https://sts.windows.net/{fake_entra.tenant}/", aud=API_URI, ver="1.0")
    assert_unauthenticated(client.get("/caller", headers=bearer(v1)), "Invalid issuer")
    with create_app(make_settings(auth_allow_v1_tokens=True)).test_client() as v1_client:
        assert v1_client.get("/caller", headers=bearer(v1)).status_code == 200


# --- 403 ---------------------------------------------------------------------------------------------


def test_a_valid_token_without_the_role_is_forbidden(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/caller", headers=bearer(make_token(roles=["Fixture.Admin"], scp="User.Read")))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="Fixture.Read"'
    assert response.headers["content-type"] == "application/problem+json"
    assert "Fixture.Read" in response.json()["detail"]
    assert "Fixture.Admin" not in response.text  # the token's grants are not echoed back
    assert "User.Read" not in response.text


def test_each_operation_needs_the_permission_it_declares(
    client: TestClient, auth_headers: Callable[..., dict[str, str]], db_session: Session
) -> None:
    """A read-only token reads but cannot write, whichever scheme Connexion tries (both read the header)."""
    reader, writer = auth_headers(roles=READ), auth_headers(roles=["Fixture.Write"])
    assert client.get("/notes", headers=reader).json() == {"notes": 0}
    refused = client.post("/notes", json={"body": "from a reader"}, headers=reader)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="Fixture.Write"'
    assert client.post("/notes", json={"body": "from a writer"}, headers=writer).status_code == 201
    assert client.get("/notes", headers=reader).json() == {"notes": 1}
    delegated = auth_headers(roles=[], scopes=["Fixture.Write"])
    assert client.post("/notes", json={"body": "through a client"}, headers=delegated).status_code == 201


# --- Keys: caching, rotation, outages ----------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def own_client(make_settings, own_entra: FakeEntra, clock: FakeClock) -> TestClient:
    """A client of an app that trusts `own_entra`, its signing keys on `clock`."""
    app = create_app(make_settings(**own_entra.trusted_by()))
    keys = app.parts.get(TokenValidator).keys
    assert keys is not None
    keys.clock = clock
    client: TestClient = app.test_client()
    return client


def test_keys_are_fetched_once_not_per_request(own_client: TestClient, own_entra: FakeEntra) -> None:
    with own_client as client:
        for _ in range(20):
            assert client.get("/caller", headers=bearer(own_entra.make_token(roles=READ))).status_code == 200
    assert own_entra.jwks_requests == 1


def test_a_flood_of_unknown_kids_does_not_hammer_entra(own_client: TestClient, own_entra: FakeEntra) -> None:
    with own_client as client:
        for n in range(50):
            token = own_entra.make_token(roles=READ, headers={"kid": f"forged-{n}"})
            assert client.get("/caller", headers=bearer(token)).status_code == 401
    assert own_entra.jwks_requests <= 2  # the start-up load, and at most one refetch per cooldown


def test_a_rotated_key_is_picked_up_without_restart(
    own_client: TestClient, own_entra: FakeEntra, clock: FakeClock
) -> None:
    with own_client as client:
        assert client.get("/caller", headers=bearer(own_entra.make_token(roles=READ))).status_code == 200
        new_key = own_entra.rotate_keys()
        assert client.get("/caller", headers=bearer(own_entra.make_token(key=new_key, roles=READ))).status_code == 401
        clock.advance(5.1)  # past the refetch cooldown
        assert client.get("/caller", headers=bearer(own_entra.make_token(key=new_key, roles=READ))).status_code == 200


def test_cached_keys_keep_working_while_entra_is_down(own_client: TestClient, own_entra: FakeEntra) -> None:
    with own_client as client:
        own_entra.down = True
        assert client.get("/caller", headers=bearer(own_entra.make_token(roles=READ))).status_code == 200


def test_keys_never_loaded_is_503_not_500(own_client: TestClient, own_entra: FakeEntra, clock: FakeClock) -> None:
    own_entra.down = True
    with own_client as client:
        response = client.get("/caller", headers=bearer(own_entra.make_token(roles=READ)))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        assert "Tokens cannot be checked right now" in response.json()["detail"]
        assert own_entra.jwks_url not in response.text  # the keys' URL is internal: it goes to the log only
        own_entra.down = False
        assert client.get("/caller", headers=bearer(own_entra.make_token(roles=READ))).status_code == 503
        clock.advance(5.1)  # past the refetch cooldown, Entra is asked again
        assert client.get("/caller", headers=bearer(own_entra.make_token(roles=READ))).status_code == 200


def test_a_token_accepted_before_is_refused_once_its_key_is_withdrawn(
    own_client: TestClient, own_entra: FakeEntra, clock: FakeClock
) -> None:
    token = own_entra.make_token(roles=READ)
    with own_client as client:
        assert client.get("/caller", headers=bearer(token)).status_code == 200
        new_key = own_entra.rotate_keys()
        clock.advance(5.1)  # past the refetch cooldown: the new key's first token has the keys fetched again
        assert client.get("/caller", headers=bearer(own_entra.make_token(key=new_key, roles=READ))).status_code == 200
        assert_unauthenticated(client.get("/caller", headers=bearer(token)), "is not one the tenant publishes")


@pytest.mark.slow
def test_a_token_accepted_before_is_refused_once_it_expires(client: TestClient, make_token: Callable[..., str]) -> None:
    expires = int(time.time()) - LEEWAY_SECONDS + 2  # inside the leeway for two more seconds
    token = make_token(roles=READ, exp=expires)
    assert client.get("/caller", headers=bearer(token)).status_code == 200
    while time.time() < expires + LEEWAY_SECONDS:
        time.sleep(0.05)
    assert_unauthenticated(client.get("/caller", headers=bearer(token)), "Signature has expired")


@pytest.mark.slow
def test_a_key_fetch_never_blocks_the_event_loop(make_settings, own_entra: FakeEntra) -> None:
    """While a token waits for a slow JWKS fetch, the probes (on the same event loop) still answer."""
    settings = make_settings(**own_entra.trusted_by())
    app = create_app(settings)
    keys = app.parts.get(TokenValidator).keys
    assert keys is not None
    keys.clock = clock = FakeClock()
    with LiveServer(app, settings) as server:
        clock.advance(5.1)  # past the refetch cooldown that follows the start-up load
        own_entra.delay_seconds = 2.0
        waiting_kid = own_entra.make_token(roles=READ, headers={"kid": "makes-it-refetch"})

        async def scenario() -> float:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                pending = asyncio.create_task(http.get("/caller", headers=bearer(waiting_kid)))
                await asyncio.sleep(0.3)
                started = time.perf_counter()
                assert (await http.get("/healthz")).status_code == 200
                probe_seconds = time.perf_counter() - started
                assert not pending.done()
                assert (await pending).status_code == 401
                return probe_seconds

        assert asyncio.run(scenario()) < 1.0


@pytest.fixture
def served_by_own_entra(
    make_settings, own_entra: FakeEntra, clock: FakeClock
) -> Iterator[tuple[LiveServer, SigningKeys]]:
    """A real server trusting `own_entra`, and its signing keys, on `clock`."""
    settings = make_settings(**own_entra.trusted_by())
    app = create_app(settings)
    keys = app.parts.get(TokenValidator).keys
    assert keys is not None
    keys.clock = clock
    with LiveServer(app, settings) as server:
        yield server, keys


def get_all(url: str, tokens: list[str]) -> list[httpx.Response]:
    """GET `url` with each token at once, on connections of their own."""

    async def each() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=len(tokens))) as http:
            return list(await asyncio.gather(*(http.get(url, headers=bearer(token)) for token in tokens)))

    return asyncio.run(each())


def test_a_hung_entra_costs_a_cached_key_nothing(
    served_by_own_entra: tuple[LiveServer, SigningKeys], own_entra: FakeEntra, clock: FakeClock
) -> None:
    """Past the keys' time to live, tokens signed with a cached key are answered while the refresh hangs."""
    server, keys = served_by_own_entra
    keys.timeout_seconds = 600  # the refresh outlasts the test: whatever waited on it would time out
    own_entra.hang()
    clock.advance(keys.ttl_seconds + 1)
    tokens = [own_entra.make_token(roles=READ, oid=f"00000000-0000-4000-8000-{n:012}") for n in range(20)]
    for _ in range(2):
        assert [response.status_code for response in get_all(f"{server.url}/caller", tokens)] == [200] * 20
    assert own_entra.jwks_requests == 2  # the start-up load, and one refresh for them all, still hanging


def test_an_unknown_kid_waits_once_for_a_hung_entra_and_no_longer_than_the_fetch_timeout(
    served_by_own_entra: tuple[LiveServer, SigningKeys], own_entra: FakeEntra, clock: FakeClock
) -> None:
    """A key rollover while Entra hangs: the new key's tokens share one fetch, bounded by its timeout, and
    are told to come back (503); once Entra answers again, they get in."""
    server, _keys = served_by_own_entra
    new_key = own_entra.rotate_keys()
    own_entra.hang()
    clock.advance(5.1)  # past the refetch cooldown that follows the start-up load
    tokens = [own_entra.make_token(key=new_key, roles=READ, oid=f"00000000-0000-4000-8000-{n:012}") for n in range(20)]
    started = time.monotonic()
    responses = get_all(f"{server.url}/caller", tokens)
    assert time.monotonic() - started < FETCH_TIMEOUT_SECONDS + 1.5  # the documented bound, with slack for 2 cores
    for response in responses:
        problem = assert_problem(response, 503, retry_after=str(RETRY_KEYS_AFTER_SECONDS))
        assert problem["detail"].startswith("Tokens cannot be checked right now")
    assert own_entra.jwks_requests == 2  # the start-up load, and one fetch shared by the twenty
    assert get_all(f"{server.url}/caller", tokens[:1])[0].status_code == 503  # within the cooldown: no wait
    assert own_entra.jwks_requests == 2
    own_entra.recover()
    clock.advance(5.1)
    assert [response.status_code for response in get_all(f"{server.url}/caller", tokens)] == [200] * 20


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("trouble", "error_type", "error_message"),
    [
        ("hang", "TimeoutError", "no answer within 0.5 s"),  # the whole fetch's deadline, before httpx's read
        ("down", "HTTPStatusError", "Server error '503 Service Unavailable'"),
    ],
)
async def test_a_failed_fetch_is_logged_with_its_error(
    own_entra: FakeEntra, trouble: str, error_type: str, error_message: str
) -> None:
    keys = SigningKeys(own_entra.jwks_url, timeout_seconds=0.5)
    own_entra.hang() if trouble == "hang" else setattr(own_entra, "down", True)
    with structlog.testing.capture_logs() as logs:
        await keys.refresh()
    (warning,) = [line for line in logs if line["log_level"] == "warning"]
    assert warning["error.type"] == error_type
    assert warning["error.message"].startswith(error_message)


# --- Any issuer, configured ------------------------------------------------------------------------


def test_a_foreign_key_server_is_trusted_when_configured(make_settings) -> None:
    """AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL pointing at someone else's key server."""
    other = FakeEntra(tenant="0c0ffee0-0000-4000-8000-000000000042").start()
    try:
        issuer = "https://issuer.example.net/fixture"
        settings = make_settings(
            environment="production",
            auth_tenant_id="",
            auth_issuer=issuer,
            auth_audience="urn:fixture-audience",
            auth_jwks_url=other.jwks_url,
        )
        with create_app(settings).test_client() as client:
            # Only what any OAuth 2 server would put in: no Entra tenant or object id.
            good = other.make_token(iss=issuer, aud="urn:fixture-audience", roles=READ, tid=None, oid=None)
            assert client.get("/caller", headers=bearer(good)).status_code == 200
            no_role = other.make_token(iss=issuer, aud="urn:fixture-audience")
            assert client.get("/caller", headers=bearer(no_role)).status_code == 403
            assert client.get("/caller", headers=bearer(other.make_token(iss=issuer, roles=READ))).status_code == 401
            assert (
                client.get(
                    "/caller", headers=bearer(other.make_token(aud="urn:fixture-audience", roles=READ))
                ).status_code
                == 401
            )
    finally:
        other.stop()


# --- What stays open ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/ui/", "/openapi.json"])
def test_operational_endpoints_stay_open(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_caller_is_named_in_the_access_log(
    make_settings, fake_entra: FakeEntra, capsys: pytest.CaptureFixture[str]
) -> None:
    token = fake_entra.make_token(roles=READ, oid="11111111-2222-4333-8444-555555555555", azp=API_CLIENT_ID)
    with create_app(make_settings()).test_client() as client:
        client.get("/caller", headers=bearer(token))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = next(line for line in lines if line["message"] == "request")
    assert access["user"] == {
        "id": "11111111-2222-4333-8444-555555555555",
        "name": "Staff Member",
        "app_id": API_CLIENT_ID,
    }
    assert token not in json.dumps(lines)


@pytest.mark.anyio
async def test_the_bearer_hook_refuses_a_request_no_operation_was_routed_to(
    settings: FixtureSettings, make_token: Callable[..., str]
) -> None:
    """Connexion runs security only on routed operations; should that ever change, the hook fails closed."""
    parts = Parts(TokenValidator.from_settings(settings))
    unrouted = ConnexionRequest(
        {"type": "http", "method": "GET", "path": "/", "headers": [], "state": {STATE_KEY: parts}}
    )
    with pytest.raises(OAuthProblem, match="No operation matched"):
        await bearer_info(make_token(roles=READ), unrouted)
