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

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import organization
from api.errors import ERROR_RESPONSES, ApiError
from api.limits import RATE_LIMITED, upload_rate_limit
from recast.core.payloads import InputSource
from recast.core.specs import Strict
from recast.infra.config import Settings
from recast.infra.storage import CHUNK, Storage, clean_filename, parse_object_url
from recast.infra.uploads import (
    UPLOAD_SCHEME,
    UploadError,
    UploadGrant,
    UploadManifest,
    data_key,
    load_manifest,
    resolve,
    save_manifest,
    sign_upload,
    verify_upload,
)

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)  # type: ignore[arg-type]
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
# One PUT at a time per upload in this API process: two interleaved appends would corrupt the file.
# Weak values: a lock lives while a request holds or waits for it, then goes.
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


class UploadCreate(Strict):
    filename: str = Field(
        min_length=1, max_length=255, description="The file's name (sanitized for storage)."
    )
    size: int = Field(ge=1, description="Exact size in bytes; at most RECAST_MAX_UPLOAD_BYTES.")
    content_type: str = Field(default="application/octet-stream", max_length=127)


class UploadTicket(BaseModel):
    upload_id: str
    url: str = Field(description="Where to send the bytes, with `method` and `headers`.")
    method: str
    headers: dict[str, str]
    expires_at: datetime = Field(description="Until when `url` accepts the upload.")
    input_url: str = Field(description="`upload://{upload_id}`: the job's input_url once the upload is done.")
    resumable: bool = Field(
        description="True for the gateway route: `Content-Range` parts, `HEAD` for how much arrived."
    )


class UploadProgress(BaseModel):
    upload_id: str
    received: int
    size: int
    complete: bool
    input_url: str


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _storage(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadTicket,
    summary="Start an upload",
    dependencies=[Depends(upload_rate_limit)],
    responses={429: RATE_LIMITED},
)
async def create_upload(
    body: UploadCreate, request: Request, org: str = Depends(organization)
) -> UploadTicket:
    settings, storage = _settings(request), _storage(request)
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
        base = settings.public_url or str(request.base_url).rstrip("/")
        token = sign_upload(UploadGrant(org, upload_id, expires), settings.signing_secret)
        url, method, headers, resumable = f"{base}/v1/uploads/{upload_id}?token={token}", "PUT", {}, True
    return UploadTicket(
        upload_id=upload_id,
        url=url,
        method=method,
        headers=headers,
        expires_at=manifest.expires_at,
        input_url=UPLOAD_SCHEME + upload_id,
        resumable=resumable,
    )


async def _granted(request: Request, upload_id: str, token: str) -> UploadManifest:
    """The manifest of the upload a valid token grants: the token is the credential here (no API key),
    like a pre-signed URL."""
    try:
        settings = _settings(request)
        grant = verify_upload(token, settings.signing_secret, previous=settings.signing_secrets_previous)
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    if grant.upload_id != upload_id:
        raise ApiError(403, "invalid-token", "the upload token is for another upload")
    manifest = await load_manifest(_storage(request), grant.organization, upload_id)
    if manifest is None:
        raise ApiError(404, "not-found", f"no upload {upload_id}")
    return manifest


def _progress_headers(received: int, size: int) -> dict[str, str]:
    headers = {"Upload-Offset": str(received), "Upload-Length": str(size), "Cache-Control": "no-store"}
    if received:
        headers["Range"] = f"bytes=0-{received - 1}"
    return headers


@router.head(
    "/uploads/{upload_id}",
    summary="How much of an upload has arrived",
    description="`Upload-Offset`: bytes stored so far (resume from there); `Upload-Length`: the declared size.",
)
async def upload_status(upload_id: str, request: Request, token: str = Query(max_length=1024)) -> Response:
    manifest = await _granted(request, upload_id, token)
    received = await _storage(request).size(manifest.key) or 0
    return Response(status_code=200, headers=_progress_headers(received, manifest.size))


@router.put(
    "/uploads/{upload_id}",
    response_model=UploadProgress,
    summary="Send an upload's bytes (local storage)",
    description="The whole file, or one part with `Content-Range: bytes first-last/size` starting where the "
    "upload stands (`HEAD` tells). More bytes than declared → 413; a part not starting at the current "
    "offset → 409 `offset-mismatch` with `Upload-Offset`.",
)
async def put_upload(upload_id: str, request: Request, token: str = Query(max_length=1024)) -> UploadProgress:
    manifest = await _granted(request, upload_id, token)
    storage = _storage(request)
    lock = _locks.get(upload_id)
    if lock is None:
        lock = _locks[upload_id] = asyncio.Lock()
    async with lock:
        received = await _receive(request, storage, manifest)
    return UploadProgress(
        upload_id=upload_id,
        received=received,
        size=manifest.size,
        complete=received == manifest.size,
        input_url=UPLOAD_SCHEME + upload_id,
    )


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
                _progress_headers(current, size),
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


async def resolve_input(storage: Storage, org: str, input_url: str) -> InputSource:
    """The job's input source for an `input_url`: an upload becomes the object it stored (no fetch
    step); an `s3://` / `gs://` object must not be another organization's file in Recast's storage."""
    if input_url.startswith(UPLOAD_SCHEME):
        upload_id = input_url[len(UPLOAD_SCHEME) :]
        try:
            manifest, stored = await resolve(storage, org, upload_id)
        except UploadError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from exc
        return InputSource(url=input_url, storage_key=manifest.key, filename=manifest.filename, size=stored)
    scheme = input_url.partition("://")[0].lower()
    if scheme in ("s3", "gs"):
        try:
            obj = parse_object_url(input_url)
        except ValueError as exc:
            raise ApiError(400, "invalid-input", f"input_url: {exc}") from exc
        if storage.foreign_object(obj, org):
            raise ApiError(
                400,
                "invalid-input",
                "input_url: that object is in Recast's storage outside your organization's files",
            )
    return InputSource(url=input_url)
