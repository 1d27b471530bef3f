"""sign_downloads: signed, expiring download URLs for a job's finished outputs.

On S3/GCS storage a URL is the store's own pre-signed GET (the bytes never pass through Recast); on
local storage it is the gateway's `/v1/files/{token}` route. `download_link` is the one place that
chooses, used by this activity and by the API's download route.
"""

from __future__ import annotations

from temporalio import activity

from activities.deps import Deps
from recast.core import contract
from recast.core.payloads import SignedUrl, SignRequest
from recast.infra.downloads import download_link


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
