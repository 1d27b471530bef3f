"""Retries of a job's failed outputs: the run IDs, overrides of a failed output's settings, and the
job as a client sees it across its runs. Pure; the API starts and reads the runs
(`api/services/retries.py`).

A retry is a run of its own (a TranscodeJob workflow, ID `{job_id}-r{n}`) over just the failed outputs,
with their output IDs, writing at the job's own storage keys; the outputs that finished are never
touched. `GET /v1/jobs/{job_id}` shows the job merged: each output as its latest run left it, the status
of the whole (the running retry's while it runs), and every run in `attempts`.
"""

from __future__ import annotations

from typing import Any

from recast.core import pricing
from recast.core.job import Attempt, Job, JobStatus, OutputStatus

MAX_RETRIES = 10
RETRYABLE = (JobStatus.partial, JobStatus.failed)


def run_id(job_id: str, attempt: int) -> str:
    return f"{job_id}-r{attempt}"


def deep_merge(base: Any, patch: Any) -> Any:
    """`patch` over `base`: objects merged key by key, anything else replaced. An object given for a list
    of one object (the `video` shorthand) is merged into that object."""
    if isinstance(patch, dict) and isinstance(base, list) and len(base) == 1 and isinstance(base[0], dict):
        return [deep_merge(base[0], patch)]
    if isinstance(patch, dict) and isinstance(base, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return patch


def _attempt(job: Job) -> Attempt:
    return Attempt(
        attempt=job.attempt,
        job_id=job.id,
        status=job.status,
        outputs=[o.id for o in job.outputs],
        created_at=job.created_at,
        completed_at=job.completed_at,
    )


def merged(first: Job, retries: list[Job]) -> Job:
    """The job across its runs: `first` with each output as the latest run that made it left it."""
    if not retries:
        return first
    job = first.model_copy(deep=True)
    by_id = {o.id: i for i, o in enumerate(job.outputs)}
    for run in retries:
        for out in run.outputs:
            if out.id in by_id:
                job.outputs[by_id[out.id]] = out.model_copy(deep=True)
    last = retries[-1]
    job.attempts = [_attempt(first), *(_attempt(r) for r in retries)]
    job.updated_at = max(job.updated_at, last.updated_at)
    job.total_actual_cost = pricing.total([first.total_actual_cost, *(r.total_actual_cost for r in retries)])
    if not last.status.terminal:
        job.status, job.stage, job.progress = last.status, last.stage, last.progress
        job.error_code = job.error_message = None
        job.completed_at = None
        return job
    done = [o for o in job.outputs if o.status is OutputStatus.completed]
    job.completed_at = last.completed_at
    if len(done) == len(job.outputs):
        job.status, job.error_code, job.error_message = JobStatus.completed, None, None
        return job
    job.status = JobStatus.partial if done else JobStatus.failed
    bad = next(o for o in job.outputs if o.status is not OutputStatus.completed)
    job.error_code = bad.error_code or last.error_code or "canceled"
    job.error_message = bad.error_message or last.error_message or "the retry was canceled"
    return job
