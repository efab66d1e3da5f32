"""Access token validation: Entra ID's tokens, and the local dev login's where ENVIRONMENT=local."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from dataclasses_jsonschema import JsonSchemaMixin
from dataclasses_jsonschema.type_defs import JsonSchemaMeta

from servicekit.auth.claims import Claims, MalformedToken, claims_of, header_of
from servicekit.auth.dev_login import DEV_TENANT, dev_audience, dev_issuer, dev_key_path, dev_signing_key
from servicekit.auth.signing_keys import SigningKeys, UnknownSigningKey
from servicekit.excerpts import excerpt
from servicekit.settings import ServiceSettings

__all__ = ["Caller"]

ALGORITHMS = ["RS256"]  # never taken from the token's own header
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud"]  # `nbf` is checked whenever present, as Entra always sends it
LEEWAY_SECONDS = 60
# A caller's token comes back with each of its requests: its checks hold until it expires, so are kept for
# as many tokens as a busy hour brings (a couple of kB each).
CHECKED_TOKENS = 1024


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why, without echoing the token."""


@dataclass(frozen=True)
class Issuer:
    """One party whose tokens we accept, with what its tokens must say."""

    issuers: tuple[str, ...]
    audiences: tuple[str, ...]
    tenant: str | None  # checked against `tid` when set

    @property
    def required_claims(self) -> list[str]:
        return [*REQUIRED_CLAIMS, "tid"] if self.tenant else REQUIRED_CLAIMS


@dataclass(frozen=True)
class Caller(JsonSchemaMixin):
    """Who the service takes the caller for, from the token."""

    object_id: str = field(
        metadata=JsonSchemaMeta(description="The Entra object id of the user or the service principal")
    )
    roles: list[str] = field(
        metadata=JsonSchemaMeta(description="App roles assigned to the user or granted to the service")
    )
    scopes: list[str] = field(
        metadata=JsonSchemaMeta(description="Delegated scopes the user consented to for the client")
    )
    app_id: str | None = field(
        default=None, metadata=JsonSchemaMeta(description="The client application the token was issued to")
    )
    name: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        """App roles (apps and assigned users) and delegated scopes (users through a client) alike."""
        return frozenset(self.roles) | frozenset(self.scopes)

    @classmethod
    def from_claims(cls, claims: Claims, object_id: str) -> Caller:
        return cls(
            object_id=object_id,
            app_id=claims.azp or claims.appid,
            name=claims.name or claims.preferred_username,
            roles=sorted(claims.roles),
            scopes=sorted((claims.scp or "").split()),
        )


@dataclass(frozen=True)
class _Checked:
    """A token that passed every check, and what its passing depends on."""

    caller: Caller
    expires: float  # its `exp` and the leeway: PyJWT refuses it from then on
    issuer: Issuer
    kid: str | None
    key: Any  # the key that verified its signature


class TokenValidator:
    def __init__(self, entra: Issuer | None, keys: SigningKeys | None, dev: tuple[Issuer, RSAPublicKey] | None) -> None:
        self.entra = entra
        self.keys = keys
        self.dev = dev
        # By the raw token, least recently used first. Never a failure: a refused token is checked afresh.
        self._checked: OrderedDict[str, _Checked] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenValidator:
        entra = None
        if settings.trusts_an_issuer:
            entra = Issuer(settings.entra_issuers, settings.auth_audience, settings.auth_tenant_id or None)
        dev = None
        if settings.environment == "local":
            local = Issuer((dev_issuer(settings),), (dev_audience(settings),), settings.auth_tenant_id or DEV_TENANT)
            dev = (local, dev_signing_key(dev_key_path(settings)).public_key())
        return cls(entra, SigningKeys(settings.entra_jwks_url) if entra else None, dev)

    async def caller(self, token: str) -> Caller:
        """Who sent this token; raises InvalidToken, or SigningKeysUnavailable when Entra did not answer for a key
        the cache does not hold.

        A token checked before is taken at its word until it expires, while the key that verified it is still
        the one trusted for its kid: once Entra stops publishing that key, or its keys are due a refresh, the
        token is checked afresh."""
        checked = self._checked.get(token)
        if checked and time.time() < checked.expires and checked.key is self._trusted_key(checked.issuer, checked.kid):
            self._checked.move_to_end(token)
            return checked.caller
        checked = await self._check(token)
        self._checked[token] = checked
        if len(self._checked) > CHECKED_TOKENS:
            self._checked.popitem(last=False)
        return checked.caller

    def _trusted_key(self, issuer: Issuer, kid: str | None) -> Any:
        """The key that verifies `issuer`'s tokens naming `kid` now, without fetching any: None when unsure."""
        if self.dev and issuer is self.dev[0]:
            return self.dev[1]
        jwk = self.keys.published(kid) if self.keys else None
        return jwk.key if jwk else None

    async def _check(self, token: str) -> _Checked:
        try:
            header = header_of(jwt.get_unverified_header(token))
            if header.alg not in ALGORITHMS:
                raise InvalidToken(f"tokens must be signed with {' or '.join(ALGORITHMS)}")
            # Every claim read below, by PyJWT or by us, has its type checked first.
            claims = claims_of(jwt.decode(token, options={"verify_signature": False}))
            issuer, key = await self._issuer_and_key(claims.iss, header.kid)
            jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=list(issuer.audiences),
                issuer=list(issuer.issuers),
                leeway=LEEWAY_SECONDS,
                options={"require": issuer.required_claims},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken(f"{exc}: sign in again for a new token") from None
        except (jwt.PyJWTError, MalformedToken) as exc:
            raise InvalidToken(str(exc)) from None
        if issuer.tenant and claims.tid != issuer.tenant:
            raise InvalidToken("the token was issued for another tenant")
        object_id = claims.oid or claims.sub
        if not object_id:
            raise InvalidToken("the token names no caller (oid or sub)")
        assert claims.exp is not None  # a required claim: PyJWT has refused a token without one
        return _Checked(Caller.from_claims(claims, object_id), claims.exp + LEEWAY_SECONDS, issuer, header.kid, key)

    async def _issuer_and_key(self, claimed_issuer: str | None, kid: str | None) -> tuple[Issuer, Any]:
        if self.dev and claimed_issuer in self.dev[0].issuers:
            return self.dev
        if self.entra and self.keys:
            if claimed_issuer not in self.entra.issuers:
                # Refused before any key lookup: a stranger's token never costs a trip to Entra.
                raise InvalidToken(f"Invalid issuer {excerpt(claimed_issuer)}")
            try:
                return self.entra, (await self.keys.key(kid)).key
            except UnknownSigningKey as exc:
                raise InvalidToken(str(exc)) from None
        raise InvalidToken("no token issuer is configured (AUTH_TENANT_ID, or AUTH_ISSUER and AUTH_JWKS_URL)")
