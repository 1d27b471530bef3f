"""TranscodeJob: one durable workflow per job. Thin and deterministic; all I/O is in activities.

Fetch → probe → (with `delayed_start`: wait for confirmation) → one encode activity per rendition,
concurrently, each retried on its own, then its upload (store_output on the encoding worker's own task
queue), retried on its own → sign. Cancel (the `cancel` update, or a Temporal cancellation
from a parent workflow or the Web UI) stops the running encodes and keeps the finished outputs.
A retry (`JobParams.retry_of`) is a run of its own over a job's failed outputs, writing at that job's
storage keys (`api/services/retries.py`).
The workflow always *completes* with the final Job (status completed, partial, failed or canceled),
so the result can be read without a worker and a parent workflow gets the Job back as a plain value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from recast.core import contract, pricing, timeline
    from recast.core.contract import (
        CHUNKED_ENCODE_PATCH,
        CREATED_AT_KEY,
        JOB_MEMO,
        ORGANIZATION_KEY,
        OUTPUT_ACTIVITIES,
        PRIORITY_KEY,
        STATUS_KEY,
        UPLOAD_STEP_PATCH,
        OutputActivity,
    )
    from recast.core.job import (
        STAGE_PROGRESS,
        InputMetadata,
        Job,
        JobStatus,
        Output,
        OutputStatus,
        Stage,
        encoding_progress,
        output_filename,
        savings,
    )
    from recast.core.output_activities import output_activity
    from recast.core.payloads import (
        EncodeRequest,
        EncodeResult,
        FetchRequest,
        FetchResult,
        InputPart,
        InputSource,
        JobParams,
        SignedUrl,
        SignRequest,
        initial_job,
    )
    from recast.core.webhooks import (
        EVENT_OUTPUT_COMPLETED,
        EVENT_STATUS_CHANGED,
        WEBHOOK_RETRY,
        WebhookDelivery,
    )

from workflows import chunked
from workflows.rules import Source, failure, unusable
from workflows.upload_step import ENDED, store, worker_gone

_T = TypeVar("_T")


QUICK_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    return round((end - start).total_seconds() * 1000) if start and end else None


class _Stop(Exception):
    """The job ends early with this status, error code and message."""

    def __init__(self, status: JobStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@workflow.defn(name=contract.WORKFLOW_TYPE)
class TranscodeJob:
    @workflow.init
    def __init__(self, params: JobParams) -> None:
        self.params = params
        self.job: Job = initial_job(params)
        self._confirmed = False
        self._work: asyncio.Task[None] | None = None
        self._deliveries: list[asyncio.Task[None]] = []
        self._unpublished = False
        self._uploading: set[str] = set()  # outputs encoded, being stored

    # ---------------------------------------------------------------- reads and controls ------------------

    @workflow.query(name=contract.QUERY_JOB)
    def get_job(self) -> Job:
        return self.job

    @workflow.update(name=contract.UPDATE_CANCEL)
    async def cancel(self) -> Job:
        """Stop the job: running encodes are cancelled (ffmpeg killed), finished outputs are kept."""
        await workflow.wait_condition(lambda: self._work is not None)
        assert self._work is not None
        self._work.cancel()
        await workflow.wait_condition(lambda: self.job.status.terminal)
        return self.job

    @cancel.validator
    def _cancel_allowed(self) -> None:
        if self.job.status.terminal:
            raise ApplicationError(f"the job is already {self.job.status.value}", type="not-cancelable")

    @workflow.update(name=contract.UPDATE_CONFIRM)
    async def confirm(self) -> Job:
        """Let a `delayed_start` job go on from `awaiting_confirmation` to processing."""
        self._confirmed = True
        await workflow.wait_condition(lambda: self.job.status is not JobStatus.awaiting_confirmation)
        return self.job

    @confirm.validator
    def _confirm_allowed(self) -> None:
        if self.job.status is not JobStatus.awaiting_confirmation:
            raise ApplicationError(
                f"the job is {self.job.status.value}, not awaiting_confirmation",
                type="not-awaiting-confirmation",
            )

    # ---------------------------------------------------------------- the job ------------------------------

    @workflow.run
    async def run(self, params: JobParams) -> Job:
        job = self.job
        # The API sets these at start; a job started as another workflow's child (or from the CLI of
        # Temporal) has none until here, and would not be listed. Only then: an upsert is a history
        # event and a visibility write.
        if workflow.info().typed_search_attributes.get(ORGANIZATION_KEY) is None:
            workflow.upsert_search_attributes(
                [
                    ORGANIZATION_KEY.value_set(job.organization),
                    STATUS_KEY.value_set(job.status.value),
                    PRIORITY_KEY.value_set(job.priority.value),
                    CREATED_AT_KEY.value_set(job.created_at),
                ]
            )
        job.execution.queue_duration_ms = _ms(job.created_at, workflow.now())
        # workflow.logger drops lines while the history replays: each is written once per job.
        workflow.logger.info("job started", extra={"outputs": len(job.outputs)})
        publisher = asyncio.create_task(self._publish())
        self._work = asyncio.create_task(self._process(params))
        try:
            await self._work
        except asyncio.CancelledError:
            # From the cancel update, or a Temporal cancellation (a parent workflow, the Web UI).
            await self._sign_finished(params)
            self._finish(JobStatus.canceled, ("canceled", "the job was canceled"))
        except _Stop as stop:
            self._finish(stop.status, (stop.code, stop.message))
        await workflow.wait_condition(lambda: not self._unpublished)
        publisher.cancel()
        # Webhooks never delay the job: it is already finished (and published) when they are awaited.
        await asyncio.gather(*self._deliveries)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return job

    async def _process(self, params: JobParams) -> None:
        job = self.job
        now = workflow.now
        # A join's inputs are fetched, then probed, concurrently; a failure names the input's index.
        sources = params.inputs or [params.source]
        numbered = bool(params.inputs)
        fetch_started = now()
        self._enter(Stage.fetching)
        fetched: list[FetchResult] = await self._each_input(
            [self._fetch(params, src, i if numbered else None) for i, src in enumerate(sources)], numbered
        )
        job.input.size = fetched[0].size
        for info, got in zip(job.inputs, fetched, strict=False):
            info.size = got.size
        job.execution.fetch_duration_ms = _ms(fetch_started, now())

        self._set_status(JobStatus.probing)
        self._enter(Stage.probing)
        probe_started = now()
        metas: list[InputMetadata] = await self._each_input(
            [self._probe(params, f) for f in fetched], numbered
        )
        for info, part_meta in zip(job.inputs, metas, strict=False):
            info.metadata = part_meta
        meta = timeline.joined_metadata(metas)
        job.input_metadata = meta
        job.probed_at = now()
        job.execution.probe_duration_ms = _ms(probe_started, job.probed_at)
        try:
            clip = timeline.resolve_clip(params.clip, meta.duration_ms)
        except timeline.ClipError as err:
            raise _Stop(JobStatus.failed, "invalid-clip", str(err)) from None
        job.clip = clip
        output_s = timeline.output_duration_s(meta.duration_ms, clip)
        limit = params.settings.max_duration_s
        if len(metas) > 1 and output_s > limit:
            # Each input passed the limit at probe; ten of them joined must not make ten times the work.
            raise _Stop(
                JobStatus.failed,
                "too-long",
                f"the joined inputs last {output_s:.1f} s, longer than the limit of {limit:g} s; "
                "a clip can keep a part of them",
            )
        job.total_estimated_cost = pricing.estimate(
            [o.spec for o in params.outputs], meta, job.priority, output_s
        )
        parts = [InputPart(key=f.storage_key, metadata=m) for f, m in zip(fetched, metas, strict=True)]
        if len(parts) < 2:
            parts = []  # one input: input_key and input_metadata say it all
        source = Source(fetched[0].storage_key, meta, parts, clip)
        refused = {o.id: why for o in params.outputs if (why := unusable(o.spec, source))}
        if len(refused) == len(params.outputs):
            raise _Stop(JobStatus.failed, *next(iter(refused.values())))

        if params.delayed_start:
            self._set_status(JobStatus.awaiting_confirmation)
            self._enter(Stage.awaiting_confirmation)
            try:
                await workflow.wait_condition(
                    lambda: self._confirmed, timeout=timedelta(seconds=params.settings.confirmation_timeout_s)
                )
            except TimeoutError:
                raise _Stop(
                    JobStatus.canceled,
                    "confirmation-timeout",
                    f"the job was not confirmed within {params.settings.confirmation_timeout_s:g} seconds",
                ) from None
            job.confirmed_at = now()
            job.execution.confirmation_wait_ms = _ms(job.probed_at, job.confirmed_at)

        stem = (job.input.filename or job.input.url or "input").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for out in job.outputs:
            out.status, out.filename = OutputStatus.processing, output_filename(stem, out)
        job.started_at = now()
        self._set_status(JobStatus.processing)
        self._enter(Stage.encoding)
        await asyncio.gather(*(self._encode(params, source, out) for out in job.outputs))
        job.execution.encode_duration_ms = _ms(job.started_at, now())

        finalize_started = now()
        self._enter(Stage.finalizing)
        done = await self._sign_finished(params)
        job.execution.finalize_duration_ms = _ms(finalize_started, now())
        if len(done) == len(job.outputs):
            self._finish(JobStatus.completed)
            return
        failed = next(o for o in job.outputs if o.status is OutputStatus.failed)
        first_error = (failed.error_code or "internal", failed.error_message or "an output failed")
        self._finish(JobStatus.partial if done else JobStatus.failed, first_error)

    async def _fetch(self, params: JobParams, source: InputSource, index: int | None) -> FetchResult:
        if source.storage_key:
            # Uploads were streamed into storage by the API: nothing to fetch, save the round trip.
            return FetchResult(storage_key=source.storage_key, size=source.size or 0)
        return await workflow.execute_activity(
            contract.fetch_input,
            FetchRequest(
                job_id=params.job_id,
                organization=params.organization,
                source=source,
                folder=None if index is None else str(index),
            ),
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(seconds=max(params.settings.heartbeat_timeout_s, 60)),
            retry_policy=QUICK_RETRY,
        )

    async def _probe(self, params: JobParams, fetched: FetchResult) -> InputMetadata:
        probe = (
            workflow.execute_local_activity if params.settings.local_storage else workflow.execute_activity
        )
        return await probe(
            contract.probe_input,
            fetched.storage_key,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=QUICK_RETRY,
        )

    async def _each_input(self, steps: list[Coroutine[Any, Any, _T]], numbered: bool) -> list[_T]:
        """Run one step for every input concurrently; the job fails with the first input's (by index)
        failure, named `inputs[i]` when the job has `inputs`."""
        results = await asyncio.gather(*steps, return_exceptions=True)
        for i, result in enumerate(results):
            if isinstance(result, BaseException):
                if is_cancelled_exception(result) or isinstance(result, asyncio.CancelledError):
                    raise asyncio.CancelledError() from result
                if not isinstance(result, (ActivityError, ApplicationError)):
                    raise result
                # A failed local activity surfaces as its ApplicationError, an ordinary one as ActivityError.
                code, message = failure(result)
                raise _Stop(JobStatus.failed, code, f"inputs[{i}]: {message}" if numbered else message)
        return [r for r in results if not isinstance(r, BaseException)]

    async def _encode(self, params: JobParams, source: Source, out: Output) -> None:
        settings, job = params.settings, self.job
        meta = source.meta
        planned = next(p for p in params.outputs if p.id == out.id)
        if why_not := unusable(planned.spec, source):
            out.status, out.progress = OutputStatus.failed, 100
            out.error_code, out.error_message = why_not
            self._update_progress()
            return
        make = OUTPUT_ACTIVITIES[output_activity(planned.spec)]
        request = EncodeRequest(
            job_id=self._storage_job_id(),
            organization=params.organization,
            output_id=out.id,
            spec=planned.spec,
            input_key=source.key,
            input_metadata=meta,
            stall_timeout_s=settings.stall_timeout_s,
            path=planned.path,
            parts=source.parts,
            clip=source.clip,
            captions=params.captions,
        )
        try:
            if workflow.patched(UPLOAD_STEP_PATCH):
                made = None
                if chunked.applies(params, request) and workflow.patched(CHUNKED_ENCODE_PATCH):
                    opts = self._encode_options(params)
                    made = await chunked.encode(params, request, out, job, opts, self._update_progress)
                result = made or await self._make_and_store(params, make, request, out)
            else:  # a job that reached its encodes before the upload step: encode and store in one
                result = await workflow.execute_activity(make, request, **self._encode_options(params))
        except asyncio.CancelledError:
            out.status = OutputStatus.canceled
            raise
        except ActivityError as err:
            if is_cancelled_exception(err):
                out.status = OutputStatus.canceled
            else:
                out.status, out.progress = OutputStatus.failed, 100
                out.error_code, out.error_message = failure(err)
                workflow.logger.warning(
                    "output failed: %s",
                    out.error_message,
                    extra={"output_id": out.id, "error_code": out.error_code},
                )
        else:
            out.status, out.progress = OutputStatus.completed, 100
            out.file_size_bytes, out.duration_ms = result.file_size_bytes, result.duration_ms
            out.width, out.height, out.audio = result.width, result.height, result.audio
            out.background_color = result.background_color  # state only: no command changes
            out.captions = result.captions
            out.files, out.quality = result.files, result.quality
            out.strategy = result.strategy or out.strategy
            out.chunks = out.chunks or (1 if out.video else None)
            out.filename = result.entry or out.filename
            # A folder is served as its entry file, whose type may depend on the result (a thumbnail set
            # with a sprite opens on its WebVTT index).
            out.content_type = next(
                (f.content_type for f in result.files if f.name == result.entry), out.content_type
            )
            out.input_bytes, out.output_bytes = meta.file_size_bytes, result.file_size_bytes
            out.input_duration_ms, out.input_width = meta.duration_ms, meta.width
            out.saved_bytes, out.saved_percent = savings(meta.file_size_bytes, result.file_size_bytes)
            workflow.logger.info("output completed", extra={"output_id": out.id, "bytes": out.output_bytes})
            self._notify(EVENT_OUTPUT_COMPLETED, out.id)
        self._update_progress()

    def _encode_options(self, params: JobParams) -> dict[str, Any]:
        settings = params.settings
        return {
            "start_to_close_timeout": timedelta(hours=12),
            "heartbeat_timeout": timedelta(seconds=settings.heartbeat_timeout_s),
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(seconds=1),
                maximum_attempts=settings.encode_attempts,
                non_retryable_error_types=["output-mismatch", "invalid-media"],
            ),
            # A cancelled job is `canceled` only once its ffmpeg processes are really gone.
            "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            "priority": Priority(priority_key=params.priority.temporal_key),
        }

    async def _make_and_store(
        self, params: JobParams, make: OutputActivity, request: EncodeRequest, out: Output
    ) -> EncodeResult:
        """The upload step: the output activity leaves its result in its worker's scratch and names that
        worker's own task queue; store_output runs there, retried on its own, so a failing store never
        repeats the encode. When that worker is gone (nobody picks the upload up in time, or its scratch
        no longer has the files) the output is encoded again, on any worker."""
        settings = params.settings
        request = request.model_copy(update={"stage_upload": True})
        encodes = 0
        while True:
            encodes += 1
            result: EncodeResult = await workflow.execute_activity(
                make, request, **self._encode_options(params)
            )
            staged = result.staged
            if staged is None:  # stored by the output activity itself (a worker without the upload step)
                return result
            self._uploading.add(out.id)
            out.progress = 99
            if all(o.id in self._uploading or o.status in ENDED for o in self.job.outputs):
                self._enter(Stage.uploading)
            self._update_progress()
            try:
                await store(params, staged)
                return result.model_copy(update={"staged": None})
            except ActivityError as err:
                if not worker_gone(err) or encodes >= settings.encode_attempts:
                    raise
                workflow.logger.warning("output %s: its worker is gone, encoding it again", out.id)
            finally:
                self._uploading.discard(out.id)

    async def _sign_finished(self, params: JobParams) -> list[Output]:
        """Signed download URLs for the completed outputs (the download route also signs on demand)."""
        done = [o for o in self.job.outputs if o.status is OutputStatus.completed]
        if not done:
            return done
        # Signing is a few microseconds of HMAC: a local activity (retried like any other) spares
        # the server round trip an ordinary activity costs.
        signed: list[SignedUrl] = await workflow.execute_local_activity(
            contract.sign_downloads,
            SignRequest(
                organization=self.job.organization,
                job_id=self._storage_job_id(),
                outputs=done,
                ttl_s=params.settings.url_ttl_s,
                public_url=params.settings.public_url,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK_RETRY,
        )
        for s in signed:
            out = next(o for o in self.job.outputs if o.id == s.output_id)
            out.download_url, out.download_expires_at = s.url, s.expires_at
        return done

    def _storage_job_id(self) -> str:
        """Whose keys the outputs are written (and signed) under: a retry run (`retry_of`) writes its
        outputs where the first run's would have been, so a retried output keeps its key and a finished
        one is never touched. Gated: only runs started with `retry_of` ever take this branch."""
        if self.params.retry_of and workflow.patched("retry-writes-original-keys"):
            return self.params.retry_of
        return self.params.job_id

    # ---------------------------------------------------------------- webhooks -----------------------------

    def _notify(self, event: str, output_id: str | None = None) -> None:
        """Deliver a webhook in the background; its retries never hold up or fail the job."""
        hook = self.params.webhook
        if hook is None:
            return
        delivery = WebhookDelivery(
            url=hook.url,
            secret=hook.secret,
            event=event,
            delivery_id=f"dlv_{workflow.uuid4().hex[:20]}",
            job=self.job.model_copy(deep=True),
            output_id=output_id,
        )
        self._deliveries.append(asyncio.create_task(self._deliver(delivery)))

    async def _deliver(self, delivery: WebhookDelivery) -> None:
        try:
            await workflow.execute_activity(
                contract.deliver_webhook,
                delivery,
                schedule_to_close_timeout=timedelta(seconds=self.params.settings.webhook_retry_s),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=WEBHOOK_RETRY,
            )
        except (ActivityError, asyncio.CancelledError):
            workflow.logger.warning(
                "webhook %s to %s given up",
                delivery.event,
                delivery.url,
                extra={"output_id": delivery.output_id},
            )

    # ---------------------------------------------------------------- state changes ----------------------

    def _touch(self) -> None:
        """Mark the Job changed; `_publish` puts it in the workflow's memo."""
        self.job.updated_at = workflow.now()
        self._unpublished = True

    async def _publish(self) -> None:
        """Publish the Job in the workflow's memo: the API reads it with one `describe`, which needs no
        worker (a query would wait for one, e.g. while a dead worker's sticky queue times out).
        Once per workflow task, however many changes it made: every upsert is a history event carrying
        the whole Job, which the server persists and indexes (the server's CPU competes with ffmpeg)."""
        while True:
            await workflow.wait_condition(lambda: self._unpublished)
            self._unpublished = False
            workflow.upsert_memo({JOB_MEMO: self.job})

    def _set_status(self, status: JobStatus) -> None:
        self.job.status = status
        workflow.upsert_search_attributes([STATUS_KEY.value_set(status.value)])
        self._touch()
        self._notify(EVENT_STATUS_CHANGED)

    def _enter(self, stage: Stage) -> None:
        job = self.job
        job.stage = stage
        job.progress = max(job.progress, STAGE_PROGRESS[stage][0])
        workflow.set_current_details(f"{job.status.value}: {stage.value} ({job.progress}%)")
        self._touch()

    def _update_progress(self) -> None:
        """Encoding progress from finished outputs; live per-output progress comes from heartbeats."""
        self.job.progress = max(self.job.progress, encoding_progress(self.job.outputs))
        self._touch()

    def _finish(self, status: JobStatus, error: tuple[str, str] | None = None) -> None:
        job = self.job
        if error:
            job.error_code, job.error_message = error
        for out in job.outputs:
            if out.status in (OutputStatus.pending, OutputStatus.processing):
                if status is JobStatus.canceled:
                    out.status = OutputStatus.canceled
                else:
                    out.status = OutputStatus.failed
                    out.error_code = out.error_code or "job-failed"
                    out.error_message = out.error_message or "the job failed before this output was made"
        job.completed_at = workflow.now()
        if status is JobStatus.canceled:
            job.canceled_at = job.completed_at
        job.total_actual_cost = pricing.actual(job.outputs, job.priority)
        job.execution.total_duration_ms = _ms(job.created_at, job.completed_at)
        job.stage = Stage.done
        job.progress = 100
        self._set_status(status)  # publishes the finished Job and tells the webhook
        workflow.logger.info(
            "job %s", status.value, extra={"status": status.value, "error_code": job.error_code}
        )
        workflow.set_current_details(f"{status.value}" + (f": {job.error_code}" if job.error_code else ""))
