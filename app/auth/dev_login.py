"""Local dev login: with ENVIRONMENT=local only, tokens signed by a key made on first run are trusted.

The key lives in var/ (ignored by git) and never leaves the machine; `python run.py token` mints
tokens with it. No setting switches this on elsewhere: `app.auth.tokens` only loads the key when
the environment is local.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config import PROJECT_ROOT, Settings

DEV_ISSUER = "urn:directmail:local-dev-login"
DEV_KEY_PATH = PROJECT_ROOT / "var" / "dev-signing-key.pem"
DEV_KEY_ID = "local-dev"
DEV_TENANT = "local"
DEV_AUDIENCE = "api://directmail-local"


def dev_signing_key(path: Path = DEV_KEY_PATH) -> rsa.RSAPrivateKey:
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


def dev_audience(settings: Settings) -> str:
    return settings.auth_audience[0] if settings.auth_audience else DEV_AUDIENCE


def mint_dev_token(
    settings: Settings, *, roles: list[str], expires_in: int, name: str = "Local Developer", path: Path = DEV_KEY_PATH
) -> str:
    """A token the local service accepts; `expires_in` may be negative to try an expired one."""
    if settings.environment != "local":
        raise PermissionError("dev tokens exist only when ENVIRONMENT=local")
    now = int(time.time())
    issued = now if expires_in > 0 else now + expires_in - 60
    claims = {
        "iss": DEV_ISSUER,
        "aud": dev_audience(settings),
        "tid": settings.auth_tenant_id or DEV_TENANT,
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{DEV_ISSUER}/{name}")),
        "sub": name,
        "name": name,
        "roles": roles,
        "iat": issued,
        "nbf": issued,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, dev_signing_key(path), algorithm="RS256", headers={"kid": DEV_KEY_ID})
