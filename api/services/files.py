"""Serving a signed file token (`GET /v1/files/{token}`): what it grants, and the file as a response
(whole, a range of it, or 304 Not Modified: api/services/ranges.py)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from api.errors import ApiError
from api.services import ranges
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


# Browsers keep the file and revalidate it (ETag, Last-Modified) each time; shared caches never keep it:
# the URL is a credential.
CACHE_CONTROL = "private, no-cache"


async def stream(
    request: Request,
    storage: Storage,
    key: str,
    content_type: str,
    disposition: str,
    entry: str | None = None,
) -> Response:
    """The stored file as the response: whole (200), one range of it (206) or nothing when the client's
    copy is current (304), as api/services/ranges.py decides; on S3/GCS a range is read as a range from
    the store. A file a valid token names that is gone was deleted by the cleanup (RECAST_OUTPUT_TTL):
    410 `expired` — for a folder's file only when the folder's `entry` file is gone too (else the name
    is simply not in it: 404)."""
    info = await storage.stat(key)
    if info is None:
        ttl_s = storage.settings.output_ttl_s if storage.settings else 0
        if ttl_s > 0 and (entry is None or await storage.size(entry) is None):
            raise ApiError(
                410,
                "expired",
                "the file has expired: a job's files are kept for a set time after it ends "
                "(RECAST_OUTPUT_TTL), then deleted",
            )
        raise ApiError(404, "not-found", "the file no longer exists")
    headers = {"Accept-Ranges": "bytes", "Cache-Control": CACHE_CONTROL, "Content-Disposition": disposition}
    if info.etag:
        headers["ETag"] = info.etag
    if info.last_modified is not None:
        headers["Last-Modified"] = ranges.http_date(info.last_modified)
    if ranges.not_modified(request.headers, info.etag, info.last_modified):
        return Response(status_code=304, headers=headers)
    span = None
    if ranges.range_applies(request.headers, info.etag, info.last_modified):
        try:
            span = ranges.parse_range(request.headers.get("range"), info.size)
        except ranges.Unsatisfiable:
            raise ApiError(
                416,
                "range-not-satisfiable",
                f"Range: not a byte range of this {info.size}-byte file",
                {"Content-Range": f"bytes */{info.size}", "Accept-Ranges": "bytes"},
            ) from None
    status, offset, length = 200, 0, info.size
    if span is not None:
        status, offset, length = 206, span.first, span.length
        headers["Content-Range"] = span.content_range
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=content_type)
    if_match = info.etag if info.store_etag else None
    body = storage.iter_bytes(key, offset, length, if_match=if_match) if span else storage.iter_bytes(key)
    return StreamingResponse(body, status_code=status, media_type=content_type, headers=headers)
