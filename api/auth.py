"""Bearer API keys → organization."""

from __future__ import annotations

import hmac

from fastapi import Request

from api.errors import ApiError


async def organization(request: Request) -> str:
    """The caller's organization, from `Authorization: Bearer <key>`; 401 `unauthorized` otherwise."""
    keys: dict[str, str] = request.app.state.settings.api_keys
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key:
        for known, org in keys.items():
            # compare_digest on every key: timing does not reveal how much of a key matched
            if hmac.compare_digest(known.encode(), key.strip().encode()):
                return org
    raise ApiError(
        401,
        "unauthorized",
        "a valid API key is required: Authorization: Bearer <key>",
        {"WWW-Authenticate": "Bearer"},
    )
