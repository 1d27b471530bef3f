"""The routes' dependencies, typed: `Annotated` aliases a route names as a parameter type.

The only module that reads `app.state` (the AppState api/app.py puts there); routes ask for what they
need — settings, storage, the job store, the caller's organization, the job of `{job_id}` — and get it
typed and already checked.

Every dependency is `async def`, even those that only pick a field: FastAPI runs a plain `def`
dependency on a worker thread, and those thread hops were most of the API's own time per poll (profiled:
~8 per `GET /v1/jobs/{id}`, more CPU than the Temporal call itself).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Response, Security

from api.auth import authenticate, bearer
from api.job_store import JobStore, read_age
from api.limits import Limits, Slot
from api.services.downloads import Downloads
from api.services.submission import Submissions
from api.state import AppState
from recast.core import ids
from recast.core.job import Job
from recast.infra.config import Settings
from recast.infra.storage import Storage


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.recast
    return state


State = Annotated[AppState, Depends(app_state)]


async def _settings(state: State) -> Settings:
    return state.settings


async def _storage(state: State) -> Storage:
    return state.storage


async def _job_store(state: State) -> JobStore:
    if state.jobs is None:  # only before the lifespan has connected to Temporal
        raise RuntimeError("the app has not started: no Temporal client yet")
    return state.jobs


async def _limits(state: State) -> Limits:
    if state.limits is None:
        raise RuntimeError("the app has not started: no Temporal client yet")
    return state.limits


SettingsDep = Annotated[Settings, Depends(_settings)]
StorageDep = Annotated[Storage, Depends(_storage)]
JobStoreDep = Annotated[JobStore, Depends(_job_store)]
LimitsDep = Annotated[Limits, Depends(_limits)]


async def _organization(request: Request, state: State, key: Annotated[str | None, Security(bearer)]) -> str:
    """The caller's organization (api/auth.py): 401 without a valid key, 403 for a mismatched
    `X-Organization-ID`."""
    return authenticate(state.keys, key, request.headers.get("x-organization-id"))


Organization = Annotated[str, Depends(_organization)]


async def _base_url(request: Request, settings: SettingsDep) -> str:
    """Where this gateway is reached: RECAST_PUBLIC_URL, else the URL the request came to."""
    return settings.public_url or str(request.base_url).rstrip("/")


BaseUrl = Annotated[str, Depends(_base_url)]


async def _job(job_id: str, org: Organization, store: JobStoreDep) -> Job:
    """The job of the `{job_id}` path, read once; 404 `not-found` for an unknown job and for another
    organization's (whose existence is not revealed)."""
    return await store.get(job_id, org)


JobDep = Annotated[Job, Depends(_job)]


async def _polled_job(
    job_id: str, org: Organization, store: JobStoreDep, request: Request, response: Response
) -> Job:
    """As `_job`, for a poll: while Temporal is slow to answer, a running job may be served from its last
    read (at most RECAST_READ_MAX_AGE_MS old), said by an `Age` header (RFC 9111). `Cache-Control:
    no-cache` asks for a fresh read, e.g. from a webhook handler that must see at least the webhook's state."""
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    job = await store.get(job_id, org, stale_ok=not fresh)
    if (age := read_age.get()) is not None:
        response.headers["Age"] = str(int(age))
    return job


PolledJobDep = Annotated[Job, Depends(_polled_job)]


async def _downloads(settings: SettingsDep, storage: StorageDep, base_url: BaseUrl) -> Downloads:
    return Downloads(storage, settings.signing_secret, settings.url_ttl_s, base_url)


DownloadsDep = Annotated[Downloads, Depends(_downloads)]


async def _submissions(
    settings: SettingsDep, storage: StorageDep, store: JobStoreDep, base_url: BaseUrl
) -> Submissions:
    return Submissions(settings, storage, store, base_url)


SubmissionsDep = Annotated[Submissions, Depends(_submissions)]


async def _submission_slot(request: Request, org: Organization, limits: LimitsDep) -> AsyncIterator[Slot]:
    """Admits a job submission before its body is read (an upload over the limit is refused before it
    is sent), and frees its reservation when the request ends."""
    key = request.headers.get("idempotency-key")
    slot = await limits.admit(org, ids.idempotent_job_id(org, key) if key else None)
    try:
        yield slot
    finally:
        slot.release()


SubmissionSlot = Annotated[Slot, Depends(_submission_slot)]


async def upload_rate_limit(org: Organization, limits: LimitsDep) -> None:
    """For `POST /v1/uploads`: the submissions-per-minute limit only, in a window of its own (an upload
    is followed by its job's submission; sharing one window would halve the limit). An upload starts no
    job, so the concurrent-jobs limit applies to the job's submission instead."""
    window = f"{org}\0uploads"
    limits.check_rate(window, what="uploads", org=org)
    limits.submitted.setdefault(window, deque()).append(limits.clock())


async def batch_rate_limit(org: Organization, limits: LimitsDep) -> None:
    """For `POST /v1/batches`: one submission against the per-minute limit. Its jobs are not held to the
    concurrent-jobs limit at submission (they wait in Temporal for workers like any queued job)."""
    limits.check_rate(org)
    limits.submitted.setdefault(org, deque()).append(limits.clock())
