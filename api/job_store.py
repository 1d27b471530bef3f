"""Jobs as the API sees them, read from and started in Temporal (job state lives only there)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from recast.models import (
    EncodeProgress,
    Job,
    JobParams,
    JobStatus,
    OutputStatus,
    Stage,
    encoding_progress,
    initial_job,
)
from workflows.transcode import ORGANIZATION_KEY, STATUS_KEY, TranscodeJob

TERMINAL_CACHE_SIZE = 10_000
QUERY_TIMEOUT = timedelta(seconds=5)
# Started, task scheduled, task started, task completed: below this no worker has run the workflow.
FIRST_TASK_DONE_EVENTS = 4


class JobStore:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue
        # A finished job never changes again, so it is read from Temporal once.
        self._terminal: OrderedDict[str, Job] = OrderedDict()

    async def start(self, params: JobParams) -> Job:
        await self.client.start_workflow(
            TranscodeJob.run,
            params,
            id=params.job_id,
            task_queue=self.task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(ORGANIZATION_KEY, params.organization),
                    SearchAttributePair(STATUS_KEY, JobStatus.pending.value),
                ]
            ),
        )
        return initial_job(params)

    async def get(self, job_id: str, organization: str) -> Job:
        """The job, or 404 `not-found` — also when it belongs to another organization."""
        job = self._terminal.get(job_id) or await self._read(job_id)
        if job is None or job.organization != organization:
            raise ApiError(404, "not-found", f"no job {job_id}")
        if job.status.terminal:
            self._terminal[job_id] = job
            while len(self._terminal) > TERMINAL_CACHE_SIZE:
                self._terminal.popitem(last=False)
        return job

    async def _read(self, job_id: str) -> Job | None:
        if not job_id.startswith("job_"):
            return None
        handle = self.client.get_workflow_handle_for(TranscodeJob.run, job_id)
        try:
            desc = await handle.describe()
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err
        if desc.workflow_type != "TranscodeJob":
            return None
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            # The workflow completes with the final Job: readable even with no worker running.
            return await handle.result()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return await self._from_start_event(handle, failed=True)
        if desc.history_length < FIRST_TASK_DONE_EVENTS:
            # No worker has run the workflow yet, so a query would wait for one: the job is as submitted.
            return await self._from_start_event(handle)
        try:
            job = await handle.query(TranscodeJob.get_job, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            raise ApiError(503, "unavailable", "no worker answered for this job; it is safe in Temporal and "
                           "continues when a worker runs — try again shortly") from err  # fmt: skip
        self._merge_heartbeats(job, desc.raw_description.pending_activities)
        return job

    async def _from_start_event(self, handle: WorkflowHandle, failed: bool = False) -> Job | None:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [params] = await self.client.data_converter.decode(payloads, [JobParams])
                job = initial_job(params)
                if failed:  # terminated or timed out from outside Recast (e.g. in the Temporal UI)
                    job.status, job.stage, job.progress = JobStatus.failed, Stage.done, 100
                    job.error_code, job.error_message = "terminated", "the job's workflow was stopped"
                return job
        return None

    def _merge_heartbeats(self, job: Job, pending: object) -> None:
        """Live per-output progress from encode heartbeats, folded into the job's progress."""
        changed = False
        for act in pending:  # type: ignore[attr-defined]
            if act.activity_type.name != "encode_output" or not act.heartbeat_details.payloads:
                continue
            raw = self.client.data_converter.payload_converter.from_payloads(
                act.heartbeat_details.payloads, [EncodeProgress]
            )
            beat = raw[0] if raw else None
            if not isinstance(beat, EncodeProgress):
                continue
            for out in job.outputs:
                if out.id == beat.output_id and out.status is OutputStatus.processing:
                    # Verifying and uploading are the last stretch; hold at 99 until done.
                    out.progress = max(out.progress, min(99, int(beat.percent)))
                    changed = True
        if changed and job.stage is Stage.encoding:
            job.progress = max(job.progress, encoding_progress(job.outputs))
