"""The upload flow's records: where an upload lives, its manifest, and the gateway's upload tokens.

`POST /v1/uploads` writes a manifest at `{org}/uploads/{upload_id}/upload.json` and hands out where to
send the bytes (a pre-signed PUT on S3/GCS, a signed gateway route on local storage); the bytes land at
`{org}/uploads/{upload_id}/data/{filename}`. A job names the upload as `upload://{upload_id}` and the
manifest is looked up under the *job's* organization, so another organization's upload id finds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import opendal
from pydantic import BaseModel

from recast.infra import signing
from recast.infra.storage import Storage, safe_filename, upload_prefix

UPLOAD_SCHEME = "upload://"


class UploadManifest(BaseModel):
    upload_id: str
    organization: str
    filename: str
    size: int  # declared by the client; the job refuses an object of any other size
    content_type: str
    key: str  # where the bytes go
    created_at: datetime
    expires_at: datetime  # of the upload URL; the uploaded object itself stays usable


class UploadError(Exception):
    """An upload that cannot be used (yet). `status` and `code` are the API's answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def data_key(organization: str, upload_id: str, filename: str) -> str:
    return f"{upload_prefix(organization, upload_id)}data/{safe_filename(filename, 'upload')}"


def manifest_key(organization: str, upload_id: str) -> str:
    return f"{upload_prefix(organization, upload_id)}upload.json"


async def save_manifest(storage: Storage, manifest: UploadManifest) -> None:
    await storage.op.write(
        manifest_key(manifest.organization, manifest.upload_id), manifest.model_dump_json().encode()
    )


async def load_manifest(storage: Storage, organization: str, upload_id: str) -> UploadManifest | None:
    try:
        raw = await storage.op.read(manifest_key(organization, upload_id))
    except opendal.exceptions.NotFound:
        return None
    return UploadManifest.model_validate_json(bytes(raw))


def upload_expires_at(manifest: UploadManifest, ttl_s: int) -> datetime | None:
    """When an upload expires (RECAST_OUTPUT_TTL after it was created, never before its upload URL
    has): a job may no longer start from it (410 `expired`) and the cleanup deletes it, unless a running
    job uses it. None when files are kept (`ttl_s` 0)."""
    if ttl_s <= 0:
        return None
    return max(manifest.expires_at, manifest.created_at + timedelta(seconds=ttl_s))


async def resolve(storage: Storage, organization: str, upload_id: str) -> tuple[UploadManifest, int]:
    """The manifest and stored size of a finished upload of `organization`; UploadError otherwise."""
    manifest = await load_manifest(storage, organization, upload_id)
    if manifest is None:
        raise UploadError(404, "not-found", f"input_url: no upload {upload_id} in this organization")
    stored = await storage.size(manifest.key)
    if stored is None or stored < manifest.size:
        raise UploadError(
            409,
            "upload-incomplete",
            f"input_url: upload {upload_id} has {stored or 0} of its {manifest.size} bytes; finish it first",
        )
    if stored > manifest.size:
        # Only possible with a pre-signed PUT, which the store accepts whatever its length.
        raise UploadError(
            413,
            "too-large",
            f"input_url: upload {upload_id} is {stored} bytes, {manifest.size} were declared",
        )
    return manifest, stored


# ---------------------------------------------------------------- gateway upload tokens ------------------


@dataclass(frozen=True)
class UploadGrant:
    organization: str
    upload_id: str
    expires: int  # unix seconds


UPLOAD_PURPOSE = "upload."


def sign_upload(grant: UploadGrant, secret: str) -> str:
    return signing.seal(
        {"o": grant.organization, "u": grant.upload_id, "e": grant.expires}, secret, UPLOAD_PURPOSE
    )


def verify_upload(
    token: str, secret: str, now: float | None = None, previous: Iterable[str] = ()
) -> UploadGrant:
    """The grant a token carries, signed with `secret` or one of the `previous` secrets (rotation: an
    upload under way keeps its URL); UploadError 403 `invalid-token` / `token-expired` otherwise."""
    data = signing.unseal(token, (secret, *previous), UPLOAD_PURPOSE)
    if data is None:
        raise UploadError(403, "invalid-token", "the upload token is not valid")
    try:
        grant = UploadGrant(str(data["o"]), str(data["u"]), int(data["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise UploadError(403, "invalid-token", "the upload token is not valid") from exc
    if grant.expires < (time.time() if now is None else now):
        raise UploadError(403, "token-expired", "the upload URL has expired; create a new upload")
    return grant
