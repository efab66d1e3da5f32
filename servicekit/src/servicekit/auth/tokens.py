"""Access token validation: Entra ID's tokens, and the local dev login's where ENVIRONMENT=local."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from dataclasses_jsonschema import JsonSchemaMixin
from dataclasses_jsonschema.type_defs import JsonSchemaMeta

from servicekit.auth.dev_login import DEV_TENANT, dev_audience, dev_issuer, dev_key_path, dev_signing_key
from servicekit.auth.signing_keys import SigningKeys, UnknownSigningKey
from servicekit.excerpts import excerpt
from servicekit.settings import ServiceSettings

ALGORITHMS = ["RS256"]  # never taken from the token's own header
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud"]  # `nbf` is checked whenever present, as Entra always sends it
LEEWAY_SECONDS = 60


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
    def from_claims(cls, claims: dict[str, Any]) -> Caller:
        return cls(
            object_id=claims.get("oid") or claims["sub"],
            app_id=claims.get("azp") or claims.get("appid"),
            name=claims.get("name") or claims.get("preferred_username"),
            roles=sorted(claims.get("roles") or ()),
            scopes=sorted(str(claims.get("scp") or "").split()),
        )


class TokenValidator:
    def __init__(self, entra: Issuer | None, keys: SigningKeys | None, dev: tuple[Issuer, RSAPublicKey] | None) -> None:
        self.entra = entra
        self.keys = keys
        self.dev = dev

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
        """Who sent this token; raises InvalidToken, or SigningKeysUnavailable when Entra never answered."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise InvalidToken(f"tokens must be signed with {' or '.join(ALGORITHMS)}")
            issuer, key = await self._issuer_and_key(token, header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=list(issuer.audiences),
                issuer=list(issuer.issuers),
                leeway=LEEWAY_SECONDS,
                options={"require": issuer.required_claims},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if issuer.tenant and claims["tid"] != issuer.tenant:
            raise InvalidToken("the token was issued for another tenant")
        if not (claims.get("oid") or claims.get("sub")):
            raise InvalidToken("the token names no caller (oid or sub)")
        return Caller.from_claims(claims)

    async def _issuer_and_key(self, token: str, kid: str | None) -> tuple[Issuer, Any]:
        claimed_issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
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
