"""Fresh signed download links for a job's finished outputs (`…/download` and `POST /v1/optimize`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.errors import ApiError
from api.models import DownloadLink
from recast.core.job import Job, Output, OutputStatus
from recast.infra.downloads import download_link
from recast.infra.storage import Storage


def completed_output(job: Job, output_id: str) -> Output:
    """The job's output `output_id`: 404 when it has none, 409 `not-ready` until it has completed, 410
    `expired` once the job's files have expired (RECAST_OUTPUT_TTL after it ended)."""
    out = next((o for o in job.outputs if o.id == output_id), None)
    if out is None:
        raise ApiError(404, "not-found", f"job {job.id} has no output {output_id}")
    if out.status is not OutputStatus.completed:
        detail = f" ({out.error_code}: {out.error_message})" if out.status is OutputStatus.failed else ""
        raise ApiError(409, "not-ready", f"output {output_id} is {out.status.value}, not completed{detail}")
    if job.outputs_expired and job.outputs_expire_at is not None:
        raise ApiError(
            410,
            "expired",
            f"output {output_id} expired at {job.outputs_expire_at.isoformat()}: a job's files are kept for "
            "a set time after it ends (RECAST_OUTPUT_TTL), then deleted",
        )
    return out


@dataclass(frozen=True)
class Downloads:
    storage: Storage
    secret: str
    ttl_s: int
    base_url: str

    async def link(
        self, org: str, job_id: str, out: Output, expires_at: datetime | None = None
    ) -> DownloadLink:
        """A fresh signed download link for a completed output, valid for RECAST_URL_TTL — or until the
        output expires (`expires_at`), if that is sooner."""
        ttl_s = self.ttl_s
        if expires_at is not None:
            ttl_s = max(1, min(ttl_s, int((expires_at - datetime.now(UTC)).total_seconds())))
        link = await download_link(self.storage, self.secret, org, job_id, out, ttl_s, self.base_url)
        assert link is not None  # there is always a base URL here: the request's own
        return DownloadLink(url=link.url, expires_at=link.expires_at, files=link.files)

    async def job_links(self, job: Job) -> dict[str, str]:
        """Fresh signed URLs of the job's completed outputs, by output ID (none once its files expired):
        what the drop-in APIs put in their job views."""
        if job.outputs_expired:
            return {}
        return {
            out.id: (await self.link(job.organization, job.id, out, job.outputs_expire_at)).url
            for out in job.outputs
            if out.status is OutputStatus.completed
        }
