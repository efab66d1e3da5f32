"""Access token validation: Entra ID's tokens, and the local dev login's where ENVIRONMENT=local."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from app.auth.dev_login import DEV_ISSUER, DEV_TENANT, dev_audience, dev_signing_key
from app.auth.signing_keys import SigningKeys, UnknownSigningKey
from config import Settings

READ_PERMISSION = "Directmail.Read"  # the app role or delegated scope the data endpoints need
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
class Identity:
    object_id: str
    app_id: str | None
    name: str | None
    roles: frozenset[str]
    scopes: frozenset[str]

    @property
    def permissions(self) -> frozenset[str]:
        """App roles (apps and assigned users) and delegated scopes (users through a client) alike."""
        return self.roles | self.scopes

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Identity:
        return cls(
            object_id=claims.get("oid") or claims["sub"],
            app_id=claims.get("azp") or claims.get("appid"),
            name=claims.get("name") or claims.get("preferred_username"),
            roles=frozenset(claims.get("roles") or ()),
            scopes=frozenset(str(claims.get("scp") or "").split()),
        )


class TokenValidator:
    def __init__(self, entra: Issuer | None, keys: SigningKeys | None, dev: tuple[Issuer, RSAPublicKey] | None) -> None:
        self.entra = entra
        self.keys = keys
        self.dev = dev

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenValidator:
        entra = None
        if settings.trusts_an_issuer:
            entra = Issuer(settings.entra_issuers, settings.auth_audience, settings.auth_tenant_id or None)
        dev = None
        if settings.environment == "local":
            dev_issuer = Issuer((DEV_ISSUER,), (dev_audience(settings),), settings.auth_tenant_id or DEV_TENANT)
            dev = (dev_issuer, dev_signing_key().public_key())
        return cls(entra, SigningKeys(settings.entra_jwks_url) if entra else None, dev)

    async def caller(self, token: str) -> Identity:
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
        return Identity.from_claims(claims)

    async def _issuer_and_key(self, token: str, kid: str | None) -> tuple[Issuer, Any]:
        claimed_issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        if self.dev and claimed_issuer in self.dev[0].issuers:
            return self.dev
        if self.entra and self.keys:
            if claimed_issuer not in self.entra.issuers:
                # Refused before any key lookup: a stranger's token never costs a trip to Entra.
                raise InvalidToken(f"Invalid issuer {claimed_issuer!r}")
            try:
                return self.entra, (await self.keys.key(kid)).key
            except UnknownSigningKey as exc:
                raise InvalidToken(str(exc)) from None
        raise InvalidToken("no token issuer is configured (AUTH_TENANT_ID, or AUTH_ISSUER and AUTH_JWKS_URL)")
