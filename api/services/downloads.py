"""Fresh signed download links for a job's finished outputs (`…/download` and `POST /v1/optimize`)."""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import ApiError
from api.models import DownloadLink
from recast.core.job import Job, Output, OutputStatus
from recast.infra.downloads import download_link
from recast.infra.storage import Storage


def completed_output(job: Job, output_id: str) -> Output:
    """The job's output `output_id`: 404 when it has none, 409 `not-ready` until it has completed."""
    out = next((o for o in job.outputs if o.id == output_id), None)
    if out is None:
        raise ApiError(404, "not-found", f"job {job.id} has no output {output_id}")
    if out.status is not OutputStatus.completed:
        detail = f" ({out.error_code}: {out.error_message})" if out.status is OutputStatus.failed else ""
        raise ApiError(409, "not-ready", f"output {output_id} is {out.status.value}, not completed{detail}")
    return out


@dataclass(frozen=True)
class Downloads:
    storage: Storage
    secret: str
    ttl_s: int
    base_url: str

    async def link(self, org: str, job_id: str, out: Output) -> DownloadLink:
        """A fresh signed download link for a completed output, valid for RECAST_URL_TTL."""
        link = await download_link(self.storage, self.secret, org, job_id, out, self.ttl_s, self.base_url)
        assert link is not None  # there is always a base URL here: the request's own
        return DownloadLink(url=link.url, expires_at=link.expires_at, files=link.files)
