"""Serving a signed file token (`GET /v1/files/{token}`): what it grants, and the file as a response."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from api.errors import ApiError
from recast.infra.config import Settings
from recast.infra.signing import FileGrant, TokenError, folder_member, verify
from recast.infra.storage import Storage


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


def grant(settings: Settings, token: str) -> FileGrant:
    """What a download token grants; 403 with the token's error code when it is not valid."""
    try:
        return verify(token, settings.signing_secret, previous=settings.signing_secrets_previous)
    except TokenError as exc:
        raise ApiError(403, exc.code, str(exc)) from exc


def member(folder: FileGrant, name: str) -> str:
    """The storage key of file `name` in a folder token's folder; 403 for a name outside it."""
    try:
        return folder_member(folder, name)
    except TokenError as exc:
        raise ApiError(403, exc.code, str(exc)) from exc


async def stream(
    storage: Storage, key: str, content_type: str, disposition: str, entry: str | None = None
) -> StreamingResponse:
    """The stored file as the response body. A file a valid token names that is gone was deleted by the
    cleanup (RECAST_OUTPUT_TTL): 410 `expired` — for a folder's file only when the folder's `entry` file
    is gone too (else the name is simply not in it: 404)."""
    size = await storage.size(key)
    if size is None:
        ttl_s = storage.settings.output_ttl_s if storage.settings else 0
        if ttl_s > 0 and (entry is None or await storage.size(entry) is None):
            raise ApiError(
                410,
                "expired",
                "the file has expired: a job's files are kept for a set time after it ends "
                "(RECAST_OUTPUT_TTL), then deleted",
            )
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
