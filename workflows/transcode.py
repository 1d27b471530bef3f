"""TranscodeJob: one durable workflow per job. Thin and deterministic; all I/O is in activities.

Fetch → probe → one encode activity per rendition, concurrently, each retried on its own → sign.
The workflow always *completes* with the final Job (status completed, partial or failed), so the
result can be read without a worker and a parent workflow gets the Job back as a plain value.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from recast.models import (
        STAGE_PROGRESS,
        EncodeRequest,
        EncodeResult,
        FetchRequest,
        FetchResult,
        InputMetadata,
        Job,
        JobParams,
        JobStatus,
        Output,
        OutputStatus,
        SignedUrl,
        SignRequest,
        Stage,
        encoding_progress,
        initial_job,
        output_filename,
    )

STATUS_KEY = SearchAttributeKey.for_keyword("RecastStatus")
ORGANIZATION_KEY = SearchAttributeKey.for_keyword("RecastOrganization")

JOB_MEMO = "job"
QUICK_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    return round((end - start).total_seconds() * 1000) if start and end else None


def failure(err: BaseException) -> tuple[str, str]:
    """(error_code, error_message) from an activity failure, for the job or one of its outputs."""
    cause = err.__cause__ if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.type or "internal", cause.message
    if isinstance(cause, TimeoutError):
        return "timeout", "the step timed out on every attempt"
    return "internal", str(cause or err)


@workflow.defn(name="TranscodeJob")
class TranscodeJob:
    def __init__(self) -> None:
        self.job: Job | None = None

    @workflow.query(name="job")
    def get_job(self) -> Job:
        assert self.job is not None
        return self.job

    @workflow.run
    async def run(self, params: JobParams) -> Job:
        self.job = job = initial_job(params)
        now = workflow.now
        # Set here as well as at start, so a job started as another workflow's child is listed too.
        workflow.upsert_search_attributes(
            [ORGANIZATION_KEY.value_set(job.organization), STATUS_KEY.value_set(job.status.value)]
        )

        fetch_started = now()
        self._enter(Stage.fetching)
        try:
            if params.source.storage_key:
                # Uploads were streamed into storage by the API: nothing to fetch, save the round trip.
                fetched = FetchResult(storage_key=params.source.storage_key, size=params.source.size or 0)
            else:
                fetched = await workflow.execute_activity(
                    "fetch_input",
                    FetchRequest(job_id=job.id, organization=job.organization, source=params.source),
                    result_type=FetchResult,
                    start_to_close_timeout=timedelta(hours=2),
                    heartbeat_timeout=timedelta(seconds=max(params.settings.heartbeat_timeout_s, 60)),
                    retry_policy=QUICK_RETRY,
                )
            job.input.size = fetched.size
            job.execution.fetch_duration_ms = _ms(fetch_started, now())

            self._set_status(JobStatus.probing)
            self._enter(Stage.probing)
            probe_started = now()
            probe = (
                workflow.execute_local_activity
                if params.settings.local_storage
                else workflow.execute_activity
            )
            meta: InputMetadata = await probe(
                "probe_input",
                fetched.storage_key,
                result_type=InputMetadata,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=QUICK_RETRY,
            )
        except (ActivityError, ApplicationError) as err:
            # A failed local activity surfaces as its ApplicationError, an ordinary one as ActivityError.
            return self._finish(JobStatus.failed, failure(err))
        job.input_metadata = meta
        job.probed_at = now()
        job.execution.probe_duration_ms = _ms(probe_started, job.probed_at)

        stem = (job.input.filename or job.input.url or "input").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for out in job.outputs:
            out.status, out.filename = OutputStatus.processing, output_filename(stem, out)
        job.started_at = now()
        self._set_status(JobStatus.processing)
        self._enter(Stage.encoding)
        await asyncio.gather(*(self._encode(params, fetched.storage_key, meta, out) for out in job.outputs))
        job.execution.encode_duration_ms = _ms(job.started_at, now())

        done = [o for o in job.outputs if o.status is OutputStatus.completed]
        self._enter(Stage.finalizing)
        if done:
            # Signing is a few microseconds of HMAC: a local activity (retried like any other) spares
            # the server round trip an ordinary activity costs.
            signed: list[SignedUrl] = await workflow.execute_local_activity(
                "sign_downloads",
                SignRequest(
                    organization=job.organization,
                    job_id=job.id,
                    outputs=done,
                    ttl_s=params.settings.url_ttl_s,
                    public_url=params.settings.public_url,
                ),
                result_type=list[SignedUrl],
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRY,
            )
            for s in signed:
                out = next(o for o in job.outputs if o.id == s.output_id)
                out.download_url, out.download_expires_at = s.url, s.expires_at
        if len(done) == len(job.outputs):
            return self._finish(JobStatus.completed)
        failed = next(o for o in job.outputs if o.status is OutputStatus.failed)
        first_error = (failed.error_code or "internal", failed.error_message or "an output failed")
        return self._finish(JobStatus.partial if done else JobStatus.failed, first_error)

    async def _encode(self, params: JobParams, input_key: str, meta: InputMetadata, out: Output) -> None:
        settings = params.settings
        spec = next(p.spec for p in params.outputs if p.id == out.id)
        try:
            result: EncodeResult = await workflow.execute_activity(
                "encode_output",
                EncodeRequest(
                    job_id=params.job_id,
                    organization=params.organization,
                    output_id=out.id,
                    spec=spec,
                    input_key=input_key,
                    input_metadata=meta,
                    stall_timeout_s=settings.stall_timeout_s,
                ),
                result_type=EncodeResult,
                start_to_close_timeout=timedelta(hours=12),
                heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_attempts=settings.encode_attempts,
                    non_retryable_error_types=["output-mismatch", "invalid-media"],
                ),
            )
        except ActivityError as err:
            out.status, out.progress = OutputStatus.failed, 100
            out.error_code, out.error_message = failure(err)
        else:
            out.status, out.progress = OutputStatus.completed, 100
            out.file_size_bytes, out.duration_ms = result.file_size_bytes, result.duration_ms
            out.width, out.height, out.audio = result.width, result.height, result.audio
        self._update_progress()

    # ---------------------------------------------------------------- state changes ----------------------

    def _touch(self) -> None:
        """Publish the Job in the workflow's memo: the API reads it with one `describe`, which needs no
        worker (a query would wait for one, e.g. while a dead worker's sticky queue times out)."""
        assert self.job
        self.job.updated_at = workflow.now()
        workflow.upsert_memo({JOB_MEMO: self.job})

    def _set_status(self, status: JobStatus) -> None:
        assert self.job
        self.job.status = status
        workflow.upsert_search_attributes([STATUS_KEY.value_set(status.value)])
        self._touch()

    def _enter(self, stage: Stage) -> None:
        assert self.job
        self.job.stage = stage
        self.job.progress = max(self.job.progress, STAGE_PROGRESS[stage][0])
        workflow.set_current_details(f"{self.job.status.value}: {stage.value} ({self.job.progress}%)")
        self._touch()

    def _update_progress(self) -> None:
        """Encoding progress from finished outputs; live per-output progress comes from heartbeats."""
        assert self.job
        self.job.progress = max(self.job.progress, encoding_progress(self.job.outputs))
        self._touch()

    def _finish(self, status: JobStatus, error: tuple[str, str] | None = None) -> Job:
        assert self.job
        job = self.job
        if error:
            job.error_code, job.error_message = error
        for out in job.outputs:
            if out.status in (OutputStatus.pending, OutputStatus.processing):
                out.status = OutputStatus.failed
                out.error_code = out.error_code or "job-failed"
                out.error_message = out.error_message or "the job failed before this output was made"
        job.completed_at = workflow.now()
        job.execution.total_duration_ms = _ms(job.created_at, job.completed_at)
        self._set_status(status)
        self._enter(Stage.done)  # publishes the finished Job, so it must come last
        workflow.set_current_details(f"{status.value}" + (f": {job.error_code}" if job.error_code else ""))
        return job
