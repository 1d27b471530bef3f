"""`GET /v1/files/{token}`: stream an output from storage to whoever holds a valid signed token."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.errors import ApiError, error_responses
from recast.signing import TokenError, verify
from recast.storage import Storage

router = APIRouter(prefix="/v1")


def content_disposition(filename: str) -> str:
    """`attachment` naming the file safely whatever the name holds: its last path component without
    control or format characters (no CR/LF can end the header, no bidi override can disguise the
    extension), an ASCII `filename="…"` fallback without quotes or backslashes, and for a non-ASCII
    name the exact one as RFC 5987 `filename*=UTF-8''…` (percent-encoded, so always a valid header)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")).strip()
    name = name or "download"
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/files/{token}",
    summary="Download a file with a signed token",
    response_class=StreamingResponse,
    responses=error_responses(403, 404),  # type: ignore[arg-type]
)
async def download_file(token: str, request: Request) -> StreamingResponse:
    try:
        settings = request.app.state.settings
        grant = verify(token, settings.signing_secret, previous=settings.signing_secrets_previous)
    except TokenError as exc:
        raise ApiError(403, exc.code, str(exc)) from exc
    storage: Storage = request.app.state.storage
    size = await storage.size(grant.key)
    if size is None:
        raise ApiError(404, "not-found", "the file no longer exists")
    return StreamingResponse(
        storage.iter_bytes(grant.key),
        media_type=grant.content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": content_disposition(grant.filename),
            "Cache-Control": "no-store",
        },
    )
