"""`POST /v1/jobs/{id}/retry`: run a partial or failed job's failed outputs again.

A retry is a linked run (recast/core/retries.py): a TranscodeJob workflow `{id}-r{n}` started with the
job's own request (from its workflow's start event), only the failed outputs — same output IDs, same
paths, each spec with the caller's overrides — and `retry_of`, which makes it write at the job's storage
keys. Durable like any job; the outputs that finished are not in it, so their files are never touched.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from api.errors import ApiError, describe_validation
from api.job_store import JobStore
from api.limits import Slot
from recast.core import retries
from recast.core.job import Job, OutputStatus
from recast.core.output_activities import timeline_unsupported
from recast.core.payloads import JobSettings, PlannedOutput
from recast.core.specs import OutputSpec, Strict


class RetryCreate(Strict):
    """Body of `POST /v1/jobs/{id}/retry` (optional)."""

    outputs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Overrides by output ID, for failed outputs only: fields merged into the output's "
        'spec (objects key by key), e.g. `{"out_…": {"audio": {"bitrate": 96}}}`; checked as at submit.',
    )


class _Check(BaseModel):
    spec: OutputSpec


def override(planned: PlannedOutput, patch: dict[str, Any], clipped: bool, joined: bool) -> PlannedOutput:
    """The planned output with `patch` merged into its spec, checked as a submitted output is."""
    name = f"outputs.{planned.id}"
    base = planned.spec.model_dump(mode="json")
    try:
        spec = _Check.model_validate({"spec": retries.deep_merge(base, patch)}).spec
    except ValidationError as exc:
        errors = [{**e, "loc": (name, *e["loc"][1:])} for e in exc.errors()]
        raise ApiError(400, "invalid-input", describe_validation(errors)) from exc
    if spec.type is not planned.spec.type:
        raise ApiError(
            400, "invalid-input", f"{name}.type: a retry keeps the output's type ({planned.spec.type.value})"
        )
    if why := timeline_unsupported(spec, clipped=clipped, joined=joined):
        raise ApiError(400, "invalid-input", f"{name}: {why}")
    return planned.model_copy(update={"spec": spec})


async def retry(store: JobStore, job: Job, body: RetryCreate, slot: Slot, job_settings: JobSettings) -> Job:
    """Start the next retry run of `job` (as read, merged with its runs, by `store.get`)."""
    if job.retry_of is not None:
        raise ApiError(409, "not-retryable", f"{job.id} is a retry run: retry the job {job.retry_of}")
    if job.status not in retries.RETRYABLE:
        code = "retry-running" if job.attempts and not job.status.terminal else "not-retryable"
        raise ApiError(409, code, f"the job is {job.status.value}; only a partial or failed job is retried")
    attempt = len(job.attempts) or 1  # attempts lists the first run too
    if attempt > retries.MAX_RETRIES:
        raise ApiError(409, "retry-limit", f"the job has been retried {retries.MAX_RETRIES} times")
    failed = [o.id for o in job.outputs if o.status is not OutputStatus.completed]
    unknown = sorted(set(body.outputs) - set(failed))
    if unknown:
        raise ApiError(
            400,
            "invalid-input",
            f"outputs.{unknown[0]}: not a failed output of this job ({', '.join(failed)})",
        )
    params = await store.start_params(job.id)
    if params is None:
        raise ApiError(409, "not-retryable", "the job's request is no longer kept (past retention)")
    clipped, joined = params.clip is not None, len(params.inputs) > 1
    outputs = [
        override(p, body.outputs[p.id], clipped, joined) if p.id in body.outputs else p
        for p in params.outputs
        if p.id in failed
    ]
    run = params.model_copy(
        update={
            "job_id": retries.run_id(job.id, attempt),
            "outputs": outputs,
            "created_at": datetime.now(UTC),
            "delayed_start": False,  # its cost was confirmed with the job
            "idempotency_key": None,
            "retry_of": job.id,
            "attempt": attempt,
            "settings": job_settings,
        }
    )
    started, _ = await store.start(run)
    slot.started(started.id, True)
    return await store.get(job.id, job.organization)
