"""`GET /v1/files/{token}`: stream an output from storage to whoever holds a valid signed token."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.errors import ApiError, error_responses
from recast.infra.signing import FileGrant, TokenError, folder_member, verify
from recast.infra.storage import Storage, content_type_for

router = APIRouter(prefix="/v1")


def content_disposition(filename: str, kind: str = "attachment") -> str:
    """`attachment` (or `kind`) naming the file safely whatever the name holds: its last path component without
    control or format characters (no CR/LF can end the header, no bidi override can disguise the
    extension), an ASCII `filename="…"` fallback without quotes or backslashes, and for a non-ASCII
    name the exact one as RFC 5987 `filename*=UTF-8''…` (percent-encoded, so always a valid header)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")).strip()
    name = name or "download"
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    if fallback == name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _grant(token: str, request: Request) -> FileGrant:
    try:
        settings = request.app.state.settings
        return verify(token, settings.signing_secret, previous=settings.signing_secrets_previous)
    except TokenError as exc:
        raise ApiError(403, exc.code, str(exc)) from exc


async def _stream(storage: Storage, key: str, content_type: str, disposition: str) -> StreamingResponse:
    size = await storage.size(key)
    if size is None:
        raise ApiError(404, "not-found", "the file no longer exists")
    return StreamingResponse(
        storage.iter_bytes(key),
        media_type=content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": disposition,
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/files/{token}",
    summary="Download a file with a signed token",
    response_class=StreamingResponse,
    responses=error_responses(403, 404),  # type: ignore[arg-type]
)
async def download_file(token: str, request: Request) -> StreamingResponse:
    grant = _grant(token, request)
    if grant.folder:
        raise ApiError(404, "not-found", "this token is for a folder: add the file's name to the URL")
    storage: Storage = request.app.state.storage
    return await _stream(storage, grant.key, grant.content_type, content_disposition(grant.filename))


@router.get(
    "/files/{token}/{name:path}",
    summary="Download a file of a folder output (HLS/DASH package, thumbnails) with a signed token",
    description="The token grants the whole folder, so relative URIs inside playlists, MPDs and WebVTT "
    "indexes resolve under it. Files are served `inline` for players and browsers.",
    response_class=StreamingResponse,
    responses=error_responses(403, 404),  # type: ignore[arg-type]
)
async def download_folder_file(token: str, name: str, request: Request) -> StreamingResponse:
    grant = _grant(token, request)
    try:
        key = folder_member(grant, name)
    except TokenError as exc:
        raise ApiError(403, exc.code, str(exc)) from exc
    storage: Storage = request.app.state.storage
    return await _stream(storage, key, content_type_for(name), content_disposition(name, "inline"))
