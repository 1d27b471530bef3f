"""`/v1/tus/`: the tus 1.0 resumable upload protocol (https://tus.io/protocols/resumable-upload), so
tus-js-client, Uppy and other tus clients upload straight into Recast; the upload is then a job's
`input_url: upload://{upload_id}`, like one from `POST /v1/uploads`.

Core protocol plus the `creation`, `termination` and `expiration` extensions: `OPTIONS` says what is
supported (`Tus-Version`, `Tus-Extension`, `Tus-Max-Size`); `POST` with `Upload-Length` (and
`Upload-Metadata`: `filename`/`name`, `filetype`/`type`) creates an upload → 201 with `Location`;
`HEAD` → `Upload-Offset` / `Upload-Length`; `PATCH` (`Content-Type: application/offset+octet-stream`,
`Upload-Offset` = where the upload stands, else 409) appends → 204 with the new offset; `DELETE`
removes it. Every request but OPTIONS needs `Tus-Resumable: 1.0.0` (412 otherwise) and the API key, and
sees only its organization's uploads; the size limit, rate limit and lifetime are those of
`POST /v1/uploads` (RECAST_MAX_UPLOAD_BYTES, RECAST_MAX_SUBMISSIONS_PER_MINUTE, RECAST_UPLOAD_TTL:
an unfinished upload cannot be continued after it, `Upload-Expires` says when).

Our own server side: the Python tus servers on PyPI (fastapi-tusd, asgi-tus, aiohttp-tus, django-tus,
drf-tus) each write to the local disk of the process that receives the bytes, are single-maintainer
packages with few releases, and know neither OpenDAL nor our manifests, organizations and limits;
the protocol's core is small. How the bytes are stored per backend: recast/infra/tus.py. One PATCH of an
upload at a time per API process (a lock); two processes writing the same upload at once is what the
offset check prevents for sequential clients, not a guarantee for concurrent ones.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import time
import weakref
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Header, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError
from api.models import TusUpload
from api.services.ranges import http_date
from recast.infra import tus
from recast.infra.config import Settings
from recast.infra.storage import CHUNK, Storage, clean_filename
from recast.infra.uploads import UPLOAD_SCHEME, UploadManifest, data_key, load_manifest, save_manifest

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
PATCH_TYPE = "application/offset+octet-stream"
MAX_METADATA = 4096  # characters of Upload-Metadata kept (a file name and type need far fewer)
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def discovery(settings: Settings) -> dict[str, str]:
    """What `OPTIONS` answers: the protocol versions, extensions and size limit."""
    return {
        "Tus-Resumable": VERSION,
        "Tus-Version": VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(settings.max_upload_bytes),
    }


def fail(status: int, code: str, message: str, **headers: str) -> ApiError:
    """An error in the API's JSON shape that a tus client also understands (`Tus-Resumable` on it)."""
    extra = {k.replace("_", "-"): v for k, v in headers.items()}
    return ApiError(status, code, message, {"Tus-Resumable": VERSION, **extra})


def check_version(
    request: Request,
    asked: Annotated[
        str | None,
        Header(alias="Tus-Resumable", description="The tus version the client speaks: `1.0.0`."),
    ] = None,
) -> None:
    """Every request but OPTIONS must say it speaks tus 1.0.0; 412 with the versions we speak."""
    if request.method == "OPTIONS":
        return
    if asked != VERSION:
        raise fail(
            412,
            "unsupported-version",
            f"Tus-Resumable: this server speaks tus {VERSION}, not {asked or 'none'}",
            Tus_Version=VERSION,
        )


def _integer(request: Request, name: str) -> int:
    value = request.headers.get(name)
    if value is None or not value.isdigit() or len(value) > 18:
        raise fail(400, "invalid-input", f"{name}: a non-negative integer is required")
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (a key alone has an empty value)."""
    metadata: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, value = pair.strip().partition(" ")
        try:
            metadata[key] = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise fail(400, "invalid-input", f"Upload-Metadata: {key[:40]!r} is not base64 of UTF-8") from exc
    return metadata


def _expires(manifest: UploadManifest) -> dict[str, str]:
    return {"Upload-Expires": http_date(manifest.expires_at)}


async def create(
    request: Request, storage: Storage, settings: Settings, base_url: str, org: str
) -> TusUpload:
    """`POST /v1/tus/`: record a new upload of `Upload-Length` bytes."""
    if "upload-defer-length" in request.headers:
        raise fail(400, "invalid-input", "Upload-Defer-Length: not supported; send Upload-Length")
    length = _integer(request, "upload-length")
    if length < 1:
        raise fail(400, "invalid-input", "Upload-Length: an upload has at least one byte")
    if length > settings.max_upload_bytes:
        raise fail(
            413, "too-large", f"Upload-Length: larger than the limit of {settings.max_upload_bytes} bytes"
        )
    raw_metadata = request.headers.get("upload-metadata")
    if raw_metadata is not None and len(raw_metadata) > MAX_METADATA:
        raise fail(400, "invalid-input", f"Upload-Metadata: longer than {MAX_METADATA} characters")
    meta = parse_metadata(raw_metadata)
    filename = clean_filename(meta.get("filename") or meta.get("name"))
    content_type = meta.get("filetype") or meta.get("type") or ""
    upload_id = "up_" + secrets.token_urlsafe(24)  # 192 random bits: unguessable
    now = int(time.time())
    manifest = UploadManifest(
        upload_id=upload_id,
        organization=org,
        filename=filename,
        size=length,
        content_type=content_type if _CONTENT_TYPE.match(content_type) else "application/octet-stream",
        key=data_key(org, upload_id, filename),
        created_at=datetime.fromtimestamp(now, UTC),
        expires_at=datetime.fromtimestamp(now + settings.upload_ttl_s, UTC),
        tus=True,
        tus_metadata=raw_metadata,
    )
    await save_manifest(storage, manifest)
    return TusUpload(
        upload_id=upload_id,
        location=f"{base_url}/v1/tus/{upload_id}",
        input_url=UPLOAD_SCHEME + upload_id,
        size=length,
        expires_at=manifest.expires_at,
    )


def created_headers(upload: TusUpload) -> dict[str, str]:
    return {
        "Location": upload.location,
        "Tus-Resumable": VERSION,
        "Upload-Offset": "0",
        "Upload-Expires": http_date(upload.expires_at),
    }


async def manifest_of(storage: Storage, org: str, upload_id: str) -> UploadManifest:
    """The organization's tus upload `upload_id`; 404 for any other (unknown, another organization's,
    or one made with `POST /v1/uploads`)."""
    manifest = await load_manifest(storage, org, upload_id) if upload_id.startswith("up_") else None
    if manifest is None or not manifest.tus:
        raise fail(404, "not-found", f"no tus upload {upload_id[:60]} in this organization")
    return manifest


def _lock(upload_id: str) -> asyncio.Lock:
    lock = _locks.get(upload_id)
    if lock is None:
        lock = _locks[upload_id] = asyncio.Lock()
    return lock


async def status(storage: Storage, manifest: UploadManifest) -> dict[str, str]:
    """`HEAD`: where the upload stands (and a join of its parts left unfinished is done now)."""
    # No lock to read: a HEAD must not wait behind a PATCH whose connection is dead but not yet noticed;
    # what is stored so far is the answer.
    received = await tus.offset(storage, manifest)
    if received == manifest.size:
        async with _lock(manifest.upload_id):
            await tus.finish(storage, manifest)
    elif _expired(manifest):
        raise fail(410, "expired", "the upload expired before it was finished; start a new one")
    headers = {
        "Tus-Resumable": VERSION,
        "Upload-Offset": str(received),
        "Upload-Length": str(manifest.size),
        "Cache-Control": "no-store",
    }
    if received < manifest.size:
        headers.update(_expires(manifest))
    if manifest.tus_metadata:
        headers["Upload-Metadata"] = manifest.tus_metadata
    return headers


def _expired(manifest: UploadManifest) -> bool:
    return manifest.expires_at.timestamp() < time.time()


async def receive(request: Request, storage: Storage, manifest: UploadManifest) -> int:
    """`PATCH`: append the body at `Upload-Offset`; returns the new offset."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != PATCH_TYPE:
        raise fail(415, "unsupported-media-type", f"Content-Type: a PATCH body is {PATCH_TYPE}")
    at = _integer(request, "upload-offset")
    async with _lock(manifest.upload_id):
        current = await tus.offset(storage, manifest)
        if at != current:
            raise fail(
                409,
                "offset-mismatch",
                f"Upload-Offset: the upload has {current} bytes; send the part starting there",
                Upload_Offset=str(current),
            )
        if current < manifest.size and _expired(manifest):
            raise fail(410, "expired", "the upload expired before it was finished; start a new one")
        room = manifest.size - current
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > room:
            raise fail(
                413, "too-large", f"the upload is {manifest.size} bytes: {room} remain, not {declared}"
            )
        written = await _append(request, storage, manifest, current, room)
        received = current + written
        if received == manifest.size:
            await tus.finish(storage, manifest)
    return received


async def _append(request: Request, storage: Storage, manifest: UploadManifest, at: int, room: int) -> int:
    """Stream the body into the upload; what arrives before a cut connection is kept (the client resumes
    after it); bytes beyond the declared length are refused (413) and not stored."""
    if room == 0:
        return 0
    written = 0
    pending = bytearray()  # one storage write per MiB, not per network chunk
    out = await tus.writer(storage, manifest, at)
    try:
        async for chunk in request.stream():
            if written + len(pending) + len(chunk) > room:
                raise fail(413, "too-large", f"more bytes than the upload's {manifest.size}")
            pending.extend(chunk)
            if len(pending) >= CHUNK:
                await out.write(bytes(pending))
                written += len(pending)
                pending.clear()
    finally:
        if pending:
            await out.write(bytes(pending))
            written += len(pending)
        await out.close()
    return written


async def terminate(storage: Storage, manifest: UploadManifest) -> None:
    """`DELETE`: the upload and its bytes are gone (a job already reading it fails)."""
    async with _lock(manifest.upload_id):
        await tus.terminate(storage, manifest)


class TusResumableHeader:
    """Adds `Tus-Resumable: 1.0.0` to every answer under `/v1/tus` that lacks it (the protocol wants it on
    every response; errors raised before a tus route runs, such as a missing API key, come from
    elsewhere). Pure ASGI, so streaming bodies pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/tus"):
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "tus-resumable" not in headers:
                    headers["Tus-Resumable"] = VERSION
            await send(message)

        await self.app(scope, receive, send_with_header)
