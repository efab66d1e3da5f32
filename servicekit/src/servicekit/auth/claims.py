"""The shape a token's header and claims must have before anything reads them.

A token's signature says who wrote it, not that what it wrote is well formed: a `roles` mixing strings and
numbers, an `exp` sent as a string or an `oid` sent as a number is refused (a 401), never carried into a
comparison, a sort or an answer. Strict: no string becomes a number, no number a string.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

# Numbers stay numbers and strings strings; claims we do not read are let through unread; JSON's
# Infinity and NaN, which Python's json reads, are no time.
_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)


Model = TypeVar("Model", bound=BaseModel)


class MalformedToken(Exception):
    """A header field or claim of the wrong type; the message names it, never its value."""


class Header(BaseModel):
    model_config = _STRICT

    alg: str
    kid: str | None = None


class Claims(BaseModel):
    """The claims the kit reads (RFC 7519 and Entra ID's), each of the type it must have. Which must be
    present is PyJWT's to check (`REQUIRED_CLAIMS`), with its own messages."""

    model_config = _STRICT

    iss: str | None = None
    aud: str | list[str] | None = None
    exp: float | None = None  # NumericDate: seconds, a fraction allowed
    iat: float | None = None
    nbf: float | None = None
    tid: str | None = None
    oid: str | None = None
    sub: str | None = None
    azp: str | None = None
    appid: str | None = None
    name: str | None = None
    preferred_username: str | None = None
    roles: list[str] = []
    scp: str | None = None  # delegated scopes, separated by spaces


def header_of(fields: dict[str, Any]) -> Header:
    return _validated(Header, fields, "header field")


def claims_of(payload: dict[str, Any]) -> Claims:
    return _validated(Claims, payload, "claim")


def _validated(model: type[Model], values: dict[str, Any], part: str) -> Model:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        # The claim, and the item of a list: not the branch of a union pydantic tried ('aud.str').
        name, *inside = first["loc"]
        where = ".".join([str(name), *(str(step) for step in inside if isinstance(step, int))])
        raise MalformedToken(f"the token's {part} {where!r} is malformed: {first['msg']}") from None
