"""sign_downloads: signed, expiring download URLs for a job's finished outputs.

On S3/GCS storage a URL is the store's own pre-signed GET (the bytes never pass through Recast); on
local storage it is the gateway's `/v1/files/{token}` route. `download_link` is the one place that
chooses, used by this activity and by the API's download route.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import quote

from temporalio import activity

from activities.deps import Deps
from recast.core import contract
from recast.core.job import Output
from recast.core.payloads import DownloadFile, SignedUrl, SignRequest
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


class SignActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.SIGN_DOWNLOADS)
    async def sign_downloads(self, req: SignRequest) -> list[SignedUrl]:
        # Without a public URL, local storage has nowhere to point its tokens: the download route
        # signs on demand then. Pre-signed object-store URLs need no base.
        base = req.public_url or self.deps.settings.public_url
        signed = []
        for out in req.outputs:
            link = await download_link(
                self.deps.storage,
                self.deps.settings.signing_secret,
                req.organization,
                req.job_id,
                out,
                req.ttl_s,
                base,
            )
            if link is not None:
                signed.append(link)
        return signed
