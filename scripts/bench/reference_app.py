"""The benchmark's reference: Directmail's two JSON endpoints as a competent FastAPI developer would write them.

    ENVIRONMENT=local DATABASE_URL=postgresql://... uvicorn --factory scripts.bench.reference_app:create_app

What it does as Directmail does:
- `GET /healthz` answers `{"status":"ok"}` on the event loop, touching nothing.
- `GET /directmail-summary?communities=...` takes the same bearer tokens (the local dev login's, checked
  with PyJWT against the same key, algorithm, issuer, audience, tenant, required claims and leeway), asks
  for the `Directmail.Read` role or scope, and runs the same SQL as Directmail's summary, through an async
  SQLAlchemy pool on the same PostgreSQL. Its JSON holds the same total and counts per community.

Its summaries are kept as Directmail's are (SUMMARY_CACHE_ENTRIES, read from the same settings): the last
entries, keyed by the names asked for and the data's version, read first on each request; 0 keeps none.

What it leaves out, and so does not pay for: logging of any kind, APM, request ids, security headers,
CORS, compression, request limits, OpenAPI validation of the response, the audit trail, Entra ID's
signing keys, the other filters (`communities` is the one the benchmark sends; others are ignored),
quoted community names, and the "did you mean" of an unknown community.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import bindparam, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from config import Settings
from servicekit import load_settings
from servicekit.auth.dev_login import DEV_TENANT, dev_audience, dev_issuer, dev_key_path, dev_signing_key

READ_PERMISSION = "Directmail.Read"
LEEWAY_SECONDS = 60
# Directmail's summary statement as SQLAlchemy renders it for PostgreSQL, one placeholder per name.
SUMMARY_SQL = text(
    "SELECT communities.name, count(premises.uprn) AS count_1 FROM communities"
    " LEFT OUTER JOIN premises ON premises.community_id = communities.id"
    " WHERE communities.name IN (:names) GROUP BY communities.name ORDER BY communities.name"
).bindparams(bindparam("names", expanding=True))


VERSION_SQL = text("SELECT data_version.version FROM data_version")


class CommunityCount(BaseModel):
    name: str
    premises: int


class MailingSummary(BaseModel):
    total: int
    communities: list[CommunityCount]


class TokenCheck:
    """Validates the local dev login's tokens as Directmail does, with the key it loads once."""

    def __init__(self, settings: Settings) -> None:
        self.key: RSAPublicKey = dev_signing_key(dev_key_path(settings)).public_key()
        self.issuer = dev_issuer(settings)
        self.audience = dev_audience(settings)
        self.tenant = settings.auth_tenant_id or DEV_TENANT

    def claims(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "tid"]},
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"Invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}) from None
        if claims["tid"] != self.tenant or not (claims.get("oid") or claims.get("sub")):
            raise HTTPException(401, "Invalid token", headers={"WWW-Authenticate": "Bearer"})
        return claims


class SummaryCache:
    """The last `entries` summaries, by the data's version and the names. No lock: one event loop uses it."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.kept: OrderedDict[tuple[int, tuple[str, ...]], MailingSummary] = OrderedDict()

    async def summary(self, conn: AsyncConnection, names: list[str]) -> MailingSummary:
        if not self.entries:
            return await counted(conn, names)
        key = (int(await conn.scalar(VERSION_SQL) or 0), tuple(names))
        kept = self.kept.get(key)
        if kept is not None:
            self.kept.move_to_end(key)
            return kept
        summary = self.kept[key] = await counted(conn, names)
        if len(self.kept) > self.entries:
            self.kept.popitem(last=False)
        return summary


async def counted(conn: AsyncConnection, names: list[str]) -> MailingSummary:
    rows = (await conn.execute(SUMMARY_SQL, {"names": names})).all()
    unknown = set(names) - {name for name, _count in rows}
    if unknown:
        raise HTTPException(400, f"Unknown communities in 'communities': {', '.join(sorted(unknown))}")
    counts = [CommunityCount(name=name, premises=count) for name, count in rows if count]
    return MailingSummary(total=sum(count.premises for count in counts), communities=counts)


bearer = HTTPBearer()


def token_check(request: Request) -> TokenCheck:
    check: TokenCheck = request.app.state.token_check
    return check


async def reader(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    check: Annotated[TokenCheck, Depends(token_check)],
) -> dict[str, Any]:
    """The caller's claims, when they may read mailing lists. On the event loop: an RSA signature is checked
    in tens of microseconds, less than a hop to FastAPI's thread pool would cost."""
    claims = check.claims(credentials.credentials)
    permissions = set(claims.get("roles") or ()) | set(str(claims.get("scp") or "").split())
    if READ_PERMISSION not in permissions:
        raise HTTPException(403, f"{READ_PERMISSION} is needed")
    return claims


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        yield conn


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = load_settings(Settings)
    url = make_url(settings.database_url).set(drivername="postgresql+psycopg")
    # As many connections as Directmail's pool (one per Flask worker thread), checked as it checks them.
    engine = create_async_engine(url, pool_size=settings.worker_threads, max_overflow=0, pool_pre_ping=True)
    app.state.engine = engine
    app.state.token_check = TokenCheck(settings)
    app.state.summaries = SummaryCache(settings.summary_cache_entries)
    yield
    await app.state.engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(title="Directmail reference", lifespan=lifespan, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/directmail-summary", dependencies=[Depends(reader)])
    async def directmail_summary(
        communities: Annotated[str, Query(min_length=1, max_length=4000)],
        conn: Annotated[AsyncConnection, Depends(connection)],
    ) -> MailingSummary:
        names = sorted({name.strip() for name in communities.split(",") if name.strip()})
        cache: SummaryCache = app.state.summaries
        return await cache.summary(conn, names)

    return app
