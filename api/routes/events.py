"""`GET /v1/jobs/{id}/events`: watch a job as a stream of events until it ends (api/services/events.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import JobDep, JobStoreDep, Organization, SettingsDep
from api.errors import ERROR_RESPONSES
from api.models import JobEvent
from api.services.events import NDJSON, SSE, stream

router = APIRouter(prefix="/v1", tags=["events"], responses=ERROR_RESPONSES)  # type: ignore[arg-type]


class EventStream(StreamingResponse):
    media_type = NDJSON


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventStream,
    summary="Watch a job: a stream of events until it ends",
    responses={
        200: {
            "model": JobEvent,
            "description": "NDJSON (one JobEvent per line) by default; server-sent events "
            "(`event: <name>` and `data: <JobEvent JSON>`) with `Accept: text/event-stream`.",
            "content": {
                NDJSON: {"schema": {"type": "object", "$ref": "#/components/schemas/JobEvent"}},
                SSE: {"schema": {"type": "string"}},
            },
        }
    },
)
async def watch_job(
    first: JobDep, request: Request, org: Organization, store: JobStoreDep, settings: SettingsDep
) -> EventStream:
    # `first` is read before streaming: 404 for unknown and other organizations' jobs is a plain answer.
    sse = SSE in request.headers.get("accept", "").lower()
    return EventStream(
        stream(store, first, org, settings.events_heartbeat_s, sse),
        media_type=SSE if sse else NDJSON,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
