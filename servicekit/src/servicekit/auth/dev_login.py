"""Local dev login: with ENVIRONMENT=local only, tokens signed by a key made on first run are trusted.

The key lives in the service's var/ folder (which git ignores), or in LOCAL_FILES_DIR when that is set,
and never leaves the machine; a service's `python run.py token` mints tokens with it. No setting switches
this on elsewhere: `servicekit.auth.tokens` only loads the key when the environment is local.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from servicekit.settings import ServiceSettings

__all__ = ["DEV_TENANT", "dev_audience", "dev_issuer", "dev_key_path", "dev_signing_key", "mint_dev_token"]

DEV_KEY_ID = "local-dev"
DEV_TENANT = "local"
"""The tenant of the dev login's tokens while `AUTH_TENANT_ID` is unset."""


def dev_issuer(settings: ServiceSettings) -> str:
    """The issuer of the dev login's tokens."""
    return f"urn:{settings.service_name}:local-dev-login"


def dev_audience(settings: ServiceSettings) -> str:
    """The audience of the dev login's tokens: the first of `AUTH_AUDIENCE`, or the service's local one."""
    return settings.auth_audience[0] if settings.auth_audience else f"api://{settings.service_name}-local"


def dev_key_path(settings: ServiceSettings) -> Path:
    """Where the dev login keeps its signing key, among the local-only files."""
    return (settings.local_files_dir or settings.local_files()) / "dev-signing-key.pem"


def dev_signing_key(path: Path) -> rsa.RSAPrivateKey:
    """The local signing key, made (readable by its owner only) the first time it is asked for."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
        return key
    stored = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(stored, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA key: delete it to make a new one")
    return stored


def mint_dev_token(
    settings: ServiceSettings, *, roles: list[str], expires_in: int, name: str = "Local Developer"
) -> str:
    """A token the local service accepts; `expires_in` may be negative to try an expired one."""
    if settings.environment != "local":
        raise PermissionError("dev tokens exist only when ENVIRONMENT=local")
    now = int(time.time())
    issued = now if expires_in > 0 else now + expires_in - 60
    issuer = dev_issuer(settings)
    claims = {
        "iss": issuer,
        "aud": dev_audience(settings),
        "tid": settings.auth_tenant_id or DEV_TENANT,
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{issuer}/{name}")),
        "sub": name,
        "name": name,
        "roles": roles,
        "iat": issued,
        "nbf": issued,
        "exp": now + expires_in,
    }
    key = dev_signing_key(dev_key_path(settings))
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": DEV_KEY_ID})
