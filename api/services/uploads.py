"""`/v1/uploads`: upload a large input first, then submit a job with `input_url: upload://{upload_id}`.

On S3/GCS storage the client PUTs the bytes straight to the store through a pre-signed URL. On local
storage it PUTs them to this gateway (`PUT /v1/uploads/{upload_id}?token=…`), which streams them into
storage with the declared size enforced while streaming, and which can resume: `Content-Range` PUTs
send the file in parts, and `HEAD` on the same URL says how many bytes have arrived.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import weakref
from datetime import UTC, datetime

from fastapi import Request

from api.errors import ApiError
from api.models import UploadCreate, UploadTicket
from recast.infra.config import Settings
from recast.infra.storage import CHUNK, Storage, clean_filename
from recast.infra.uploads import (
    UPLOAD_SCHEME,
    UploadError,
    UploadGrant,
    UploadManifest,
    data_key,
    load_manifest,
    save_manifest,
    sign_upload,
    verify_upload,
)

_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
# One PUT at a time per upload in this API process: two interleaved appends would corrupt the file.
# Weak values: a lock lives while a request holds or waits for it, then goes.
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


async def create(
    storage: Storage, settings: Settings, base_url: str, org: str, body: UploadCreate
) -> UploadTicket:
    """Record a new upload and say where to send its bytes: the store's pre-signed PUT when it has
    one, else this gateway's resumable PUT route with a signed token."""
    if body.size > settings.max_upload_bytes:
        raise ApiError(413, "too-large", f"size: larger than the limit of {settings.max_upload_bytes} bytes")
    if not _CONTENT_TYPE.match(body.content_type):
        raise ApiError(400, "invalid-input", "content_type: not a media type like video/mp4")
    upload_id = "up_" + secrets.token_urlsafe(24)  # 192 random bits: unguessable
    now = int(time.time())
    expires = now + settings.upload_ttl_s
    manifest = UploadManifest(
        upload_id=upload_id,
        organization=org,
        filename=clean_filename(body.filename),  # shown as the job's input name: no path, no controls
        size=body.size,
        content_type=body.content_type,
        key=data_key(org, upload_id, body.filename),
        created_at=datetime.fromtimestamp(now, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
    await save_manifest(storage, manifest)
    if storage.presigns:
        url, method, headers = await storage.upload_request(
            manifest.key, settings.upload_ttl_s, body.content_type
        )
        resumable = False
    else:
        token = sign_upload(UploadGrant(org, upload_id, expires), settings.signing_secret)
        url, method, headers, resumable = f"{base_url}/v1/uploads/{upload_id}?token={token}", "PUT", {}, True
    return UploadTicket(
        upload_id=upload_id,
        url=url,
        method=method,
        headers=headers,
        expires_at=manifest.expires_at,
        input_url=UPLOAD_SCHEME + upload_id,
        resumable=resumable,
    )


async def granted(storage: Storage, settings: Settings, upload_id: str, token: str) -> UploadManifest:
    """The manifest of the upload a valid token grants: the token is the credential here (no API key),
    like a pre-signed URL."""
    try:
        grant = verify_upload(token, settings.signing_secret, previous=settings.signing_secrets_previous)
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    if grant.upload_id != upload_id:
        raise ApiError(403, "invalid-token", "the upload token is for another upload")
    manifest = await load_manifest(storage, grant.organization, upload_id)
    if manifest is None:
        raise ApiError(404, "not-found", f"no upload {upload_id}")
    return manifest


def progress_headers(received: int, size: int) -> dict[str, str]:
    """Where an upload stands: `Upload-Offset` is where to resume from."""
    headers = {"Upload-Offset": str(received), "Upload-Length": str(size), "Cache-Control": "no-store"}
    if received:
        headers["Range"] = f"bytes=0-{received - 1}"
    return headers


async def receive(request: Request, storage: Storage, manifest: UploadManifest) -> int:
    """Store the request's body (the whole file or one `Content-Range` part), one PUT of an upload at a
    time; returns the bytes stored when done (or cut off)."""
    upload_id = manifest.upload_id
    lock = _locks.get(upload_id)
    if lock is None:
        lock = _locks[upload_id] = asyncio.Lock()
    async with lock:
        return await _receive(request, storage, manifest)


async def _receive(request: Request, storage: Storage, manifest: UploadManifest) -> int:
    """Stream the body into the upload's object; returns the bytes stored when done (or cut off)."""
    size = manifest.size
    current = await storage.size(manifest.key) or 0
    header = request.headers.get("content-range")
    if header is None:
        first, last = 0, size - 1  # the whole file, from the start
    else:
        match = _RANGE.match(header.strip())
        if not match:
            raise ApiError(400, "invalid-input", "Content-Range: expected 'bytes first-last/size'")
        first, last, total = (int(g) for g in match.groups())
        if total != size:
            raise ApiError(
                400, "invalid-input", f"Content-Range: the size is {size}, as declared, not {total}"
            )
        if last < first:
            raise ApiError(400, "invalid-input", "Content-Range: last byte before first")
        if last >= size:
            raise ApiError(413, "too-large", f"Content-Range: beyond the declared size of {size} bytes")
        if first != current and first != 0:
            raise ApiError(
                409,
                "offset-mismatch",
                f"Content-Range: the upload has {current} bytes; send the part starting there",
                progress_headers(current, size),
            )
    append = first > 0
    if append and storage.local_root is None:
        raise ApiError(
            400, "invalid-input", "Content-Range: resuming needs local (fs) storage; send the whole file"
        )
    expected = last - first + 1
    written = 0
    pending = bytearray()  # one storage write per MiB, not per network chunk
    writer = await (
        storage.op.open(manifest.key, "wb", append=True) if append else storage.op.open(manifest.key, "wb")
    )
    overflow = False
    try:
        async for chunk in request.stream():
            written += len(chunk)
            if written > expected:
                overflow = True
                raise ApiError(
                    413,
                    "too-large",
                    f"more bytes than declared: the upload is {size} bytes ({expected} in this part)",
                )
            pending.extend(chunk)
            if len(pending) >= CHUNK:
                await writer.write(bytes(pending))
                pending.clear()
    finally:
        # Whatever arrived before a cut connection is kept, so the client can resume from it;
        # an overflowing upload is discarded whole.
        if pending and not overflow:
            await writer.write(bytes(pending))
        await writer.close()
        if overflow:
            await storage.delete(manifest.key)
    return first + written
