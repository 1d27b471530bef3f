"""sign_downloads: signed, expiring download URLs for a job's finished outputs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from temporalio import activity

from activities.deps import Deps
from recast.models import Output, SignedUrl, SignRequest
from recast.signing import FileGrant, file_url
from recast.storage import output_key


def grant_for(org: str, job_id: str, out: Output, ttl_s: int) -> FileGrant:
    return FileGrant(
        organization=org,
        job_id=job_id,
        output_id=out.id,
        key=output_key(org, job_id, out.id, out.type.value, out.path),
        filename=out.filename or out.id,
        content_type=out.content_type or "application/octet-stream",
        expires=int(time.time()) + ttl_s,
    )


class SignActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="sign_downloads")
    async def sign_downloads(self, req: SignRequest) -> list[SignedUrl]:
        base = req.public_url or self.deps.settings.public_url
        if not base:
            return []  # nobody told us where the API lives; the download route signs on demand
        signed = []
        for out in req.outputs:
            grant = grant_for(req.organization, req.job_id, out, req.ttl_s)
            signed.append(
                SignedUrl(
                    output_id=out.id,
                    url=file_url(base, grant, self.deps.settings.signing_secret),
                    expires_at=datetime.fromtimestamp(grant.expires, UTC),
                )
            )
        return signed
