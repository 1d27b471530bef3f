"""`POST /v1/optimize`: one output, synchronously, for small files.

The request is a job submission like `POST /v1/jobs` (same form or JSON, one output) and starts the
same workflow; the route then waits for the workflow's result — up to RECAST_OPTIMIZE_WAIT, or less
with `?wait=` — and answers with the output's report and a download link. A job still running at the
limit is answered 202 with the Job, to be polled at `GET /v1/jobs/{id}` (the `Location` header).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import DownloadsDep, JobStoreDep, Organization, SettingsDep, SubmissionsDep, SubmissionSlot
from api.errors import ERROR_RESPONSES, ErrorResponse, error_responses
from api.limits import RATE_LIMITED
from api.models import OptimizeResult
from api.openapi import optimize_body
from api.services.optimize import outcome
from recast.core.job import Job
from recast.core.requests import OptimizeCreate

router = APIRouter(prefix="/v1", tags=["optimize"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


@router.post(
    "/optimize",
    response_model=OptimizeResult,
    openapi_extra=optimize_body(),
    summary="Make one output and wait for it",
    responses={
        202: {
            "model": Job,
            "description": "Still running at the wait limit: poll GET /v1/jobs/{id} (the Location header)",
        },
        409: {
            "model": ErrorResponse,
            "description": "the job was canceled meanwhile (`canceled`), or a conflict as in POST /v1/jobs",
        },
        422: {
            "model": ErrorResponse,
            "description": "the job failed: `code` is its error_code (e.g. invalid-media, no-video-stream, "
            "too-long, output-mismatch), the message says why and names the job",
        },
        429: RATE_LIMITED,
        **error_responses(415, 410),  # 410: an expired upload
    },
)
async def optimize(
    request: Request,
    org: Organization,
    slot: SubmissionSlot,
    submissions: SubmissionsDep,
    store: JobStoreDep,
    downloads: DownloadsDep,
    settings: SettingsDep,
    wait: float | None = Query(
        default=None,
        ge=0,
        le=86400,
        description="Seconds to wait for the result before answering 202; at most (and by default) "
        "RECAST_OPTIMIZE_WAIT.",
    ),
) -> OptimizeResult | JSONResponse:
    """The same multipart form (or JSON body) as `POST /v1/jobs`, with one output (default: the `web`
    preset). 200 with the result once the job has completed; 202 with the Job if it is still running
    at the wait limit; 422 with the job's error_code if it failed."""
    limit = settings.optimize_wait_s
    job, _ = await submissions.start(request, org, slot, OptimizeCreate)
    return await outcome(store, downloads, job, org, limit if wait is None else min(wait, limit))
