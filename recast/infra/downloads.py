"""Signed, expiring download links for a job's finished outputs: the store's own pre-signed GET on
S3/GCS, else a token for the gateway's `/v1/files/{token}` route.

Shared by the `sign_downloads` activity (links in the finished Job and its webhook) and the API's
download route (a fresh link on demand), so both choose the same way.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import quote

from recast.core.job import Output
from recast.core.payloads import DownloadFile, SignedUrl
from recast.infra.signing import FileGrant, file_url, token_url
from recast.infra.storage import Storage, output_key, output_prefix


def grant_for(org: str, job_id: str, out: Output, ttl_s: int) -> FileGrant:
    """What a download token for `out` grants: its file, or for a folder output its whole folder
    (`filename` is then the entry file the URL points to)."""
    if out.files:
        key = output_prefix(org, job_id, out.id, out.path)
    else:
        key = output_key(org, job_id, out.id, out.type.value, out.path)
    return FileGrant(
        organization=org,
        job_id=job_id,
        output_id=out.id,
        key=key,
        filename=out.filename or out.id,
        content_type=out.content_type or "application/octet-stream",
        expires=int(time.time()) + ttl_s,
    )


async def download_link(
    storage: Storage, secret: str, org: str, job_id: str, out: Output, ttl_s: int, base_url: str
) -> SignedUrl | None:
    """A download URL for a finished output, valid for `ttl_s`: pre-signed by the store when it can,
    else a gateway token under `base_url` (None when there is no base URL to put it under)."""
    grant = grant_for(org, job_id, out, ttl_s)
    expires_at = datetime.fromtimestamp(grant.expires, UTC)
    if grant.folder:
        # Always through the gateway, also on S3/GCS: a pre-signed URL covers one object, and the
        # relative URIs inside a playlist or WebVTT index need every file under one token.
        if not base_url:
            return None
        folder = token_url(base_url, grant, secret)
        files = [
            DownloadFile(
                name=f.name, url=f"{folder}/{quote(f.name)}", size=f.size, content_type=f.content_type
            )
            for f in out.files
        ]
        entry = f"{folder}/{quote(grant.filename)}"
        return SignedUrl(output_id=out.id, url=entry, expires_at=expires_at, files=files)
    url = await storage.download_url(grant.key, grant.filename, grant.content_type, ttl_s)
    if url is None:
        if not base_url:
            return None
        url = file_url(base_url, grant, secret)
    return SignedUrl(output_id=out.id, url=url, expires_at=expires_at)
