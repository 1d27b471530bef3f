"""Bearer API keys → organization, and the `X-Organization-ID` check.

`bearer` is the OpenAPI's security scheme (the Authorize button in `/docs` sends its key as
`Authorization: Bearer <key>`); it only reads the header. `authenticate` decides, so that a missing or
unknown key is one 401 in the API's error shape rather than FastAPI's own.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from api.errors import ApiError
from recast.infra.keys import KeyRing

SCHEME_NAME = "ApiKey"


class ApiKeyBearer(SecurityBase):
    """`Authorization: Bearer <key>` → the key, or None when it is missing or not a bearer credential.

    A SecurityBase of its own rather than FastAPI's HTTPBearer, whose errors are not this API's."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="API key",
            description="An API key (RECAST_API_KEYS or RECAST_API_KEYS_FILE), sent as "
            "`Authorization: Bearer <key>`.",
        )
        self.scheme_name = SCHEME_NAME

    async def __call__(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        return key if scheme.lower() == "bearer" and key else None


bearer = ApiKeyBearer()


def authenticate(keys: KeyRing, key: str | None, claimed: str | None) -> str:
    """The caller's organization for this key; 401 `unauthorized` without a valid one.

    A client that names its organization in `X-Organization-ID` (`claimed`) gets 403
    `organization-mismatch` when the key belongs to another one, rather than quietly acting on the key's
    organization: a multi-tenant client that picked the wrong key learns it before it reads or creates
    anything."""
    org = keys.organization(key) if key else None
    if org is None:
        raise ApiError(
            401,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
            {"WWW-Authenticate": "Bearer"},
        )
    if claimed is not None and claimed.strip() != org:
        raise ApiError(
            403,
            "organization-mismatch",
            f"X-Organization-ID: {claimed.strip()[:64]!r} is not the organization of this API key",
        )
    return org
