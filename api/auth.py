"""Bearer API keys → organization, and the `X-Organization-ID` check."""

from __future__ import annotations

from fastapi import Request

from api.errors import ApiError
from recast.infra.keys import KeyRing


async def organization(request: Request) -> str:
    """The caller's organization, from `Authorization: Bearer <key>`; 401 `unauthorized` otherwise.

    A client that names its organization in `X-Organization-ID` gets 403 `organization-mismatch` when
    the key belongs to another one, rather than quietly acting on the key's organization: a
    multi-tenant client that picked the wrong key learns it before it reads or creates anything."""
    keys: KeyRing = request.app.state.keys
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    org = keys.organization(key) if scheme.lower() == "bearer" and key else None
    if org is None:
        raise ApiError(
            401,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
            {"WWW-Authenticate": "Bearer"},
        )
    claimed = request.headers.get("x-organization-id")
    if claimed is not None and claimed.strip() != org:
        raise ApiError(
            403,
            "organization-mismatch",
            f"X-Organization-ID: {claimed.strip()[:64]!r} is not the organization of this API key",
        )
    return org
