"""TranscodeJob without ffmpeg, storage or an API: stand-in activities registered under the contract's
activity names, job parameters with short timeouts, and a worker that runs the real workflow with them
on a Temporal dev server. The stand-ins return the real payload types in microseconds, so a test of the
workflow's logic (cancel, confirm, retries, partial failure, webhooks) takes seconds."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from recast.core.contract import (
    DELIVER_WEBHOOK,
    ENCODE_OUTPUT,
    FETCH_INPUT,
    PROBE_INPUT,
    QUERY_JOB,
    SIGN_DOWNLOADS,
    WORKFLOW_TYPE,
)
from recast.core.job import InputMetadata, Job
from recast.core.payloads import (
    EncodeProgress,
    EncodeRequest,
    EncodeResult,
    FetchRequest,
    FetchResult,
    InputSource,
    JobParams,
    JobSettings,
    PlannedOutput,
    SignedUrl,
    SignRequest,
    Webhook,
)
from recast.core.specs import OutputSpec
from recast.core.webhooks import WebhookDelivery
from workflows.transcode import TranscodeJob

# What a stand-in encode does: finish, fail for good (a mismatch is never retried), fail in a way
# that is retried (until the attempts run out), or heartbeat progress until it is cancelled.
Encode = Literal["ok", "mismatch", "flaky", "block"]

WAIT_S = 10  # for a state the workflow reaches in well under a second with stand-ins
MP4 = {"type": "mp4", "video": {"codec": "h264"}}
CLIP = InputMetadata(
    duration_ms=2000,
    width=640,
    height=360,
    codec="h264",
    framerate=30,
    audio_codec="aac",
    file_size_bytes=100_000,
)


@dataclass
class Delivery:
    """One attempt of the stand-in deliver_webhook."""

    at: float  # time.monotonic()
    delivery_id: str
    event: str
    attempt: int


@dataclass
class StandIns:
    """Fast fakes of the worker's activities, under the names the workflow calls (recast.core.contract),
    taking and returning the real payloads; they record what the workflow asked of them."""

    encode: dict[str, Encode] = field(default_factory=dict)  # output id → behaviour (default "ok")
    webhook_fails: bool = False
    # output id → the attempt numbers its encode was called with
    attempts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    cancelled: set[str] = field(default_factory=set)  # outputs whose encode saw its cancellation
    deliveries: list[Delivery] = field(default_factory=list)
    _started: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.fetch_input,
            self.probe_input,
            self.encode_output,
            self.sign_downloads,
            self.deliver_webhook,
        ]

    async def started(self, output_id: str) -> None:
        """Wait (up to WAIT_S) until the encode of this output has started (its first attempt)."""
        await asyncio.wait_for(self._started[output_id].wait(), WAIT_S)

    @activity.defn(name=FETCH_INPUT)
    async def fetch_input(self, req: FetchRequest) -> FetchResult:
        return FetchResult(storage_key=f"{req.organization}/jobs/{req.job_id}/input/clip.mp4", size=100_000)

    @activity.defn(name=PROBE_INPUT)
    async def probe_input(self, storage_key: str) -> InputMetadata:
        return CLIP

    @activity.defn(name=ENCODE_OUTPUT)
    async def encode_output(self, req: EncodeRequest) -> EncodeResult:
        out = req.output_id
        self.attempts[out].append(activity.info().attempt)
        self._started[out].set()
        match self.encode.get(out, "ok"):
            case "mismatch":
                raise ApplicationError("the output is 320x180, not 640x360", type="output-mismatch")
            case "flaky":
                raise ApplicationError("ffmpeg exited with status 1", type="encode-failed")
            case "block":
                try:
                    for percent in range(1, 100):
                        activity.heartbeat(EncodeProgress(output_id=out, percent=percent))
                        await asyncio.sleep(0.1)
                except asyncio.CancelledError:
                    self.cancelled.add(out)
                    raise
                raise AssertionError(f"the encode of {out} was never cancelled")
        return EncodeResult(
            storage_key=f"{req.organization}/jobs/{req.job_id}/outputs/{out}.mp4",
            file_size_bytes=40_000,
            duration_ms=req.input_metadata.duration_ms,
            width=req.input_metadata.width,
            height=req.input_metadata.height,
        )

    @activity.defn(name=SIGN_DOWNLOADS)
    async def sign_downloads(self, req: SignRequest) -> list[SignedUrl]:
        expires = datetime.now(UTC) + timedelta(seconds=req.ttl_s)
        return [
            SignedUrl(output_id=o.id, url=f"https://recast.test/v1/files/{o.id}?t=x", expires_at=expires)
            for o in req.outputs
        ]

    @activity.defn(name=DELIVER_WEBHOOK)
    async def deliver_webhook(self, delivery: WebhookDelivery) -> int:
        attempt = activity.info().attempt
        self.deliveries.append(Delivery(time.monotonic(), delivery.delivery_id, delivery.event, attempt))
        if self.webhook_fails:
            raise ApplicationError("the receiver answered 503", type="webhook-failed")
        return 200


def job_params(
    *output_ids: str, delayed_start: bool = False, webhook: bool = False, **settings: Any
) -> JobParams:
    """A job of mp4 outputs from a URL input, with a unique ID and timeouts short enough for a test
    (`settings` overrides JobSettings fields)."""
    return JobParams(
        job_id=f"job_wf_{uuid.uuid4().hex[:12]}",
        organization="acme",
        source=InputSource(url="https://media.example/clip.mp4", filename="clip.mp4"),
        outputs=[PlannedOutput(id=o, spec=OutputSpec.model_validate(MP4)) for o in output_ids],
        created_at=datetime.now(UTC),
        delayed_start=delayed_start,
        webhook=Webhook(url="https://hooks.example/recast", secret="whsec_test") if webhook else None,
        settings=JobSettings(
            **{"heartbeat_timeout_s": 5, "stall_timeout_s": 5, "encode_attempts": 2} | settings
        ),
    )


@dataclass
class Runner:
    """Starts jobs on a worker that runs the real TranscodeJob with stand-in activities."""

    client: Client
    task_queue: str

    async def start(self, params: JobParams) -> WorkflowHandle[Any, Job]:
        return await self.client.start_workflow(
            WORKFLOW_TYPE, params, id=params.job_id, task_queue=self.task_queue, result_type=Job
        )


@contextlib.asynccontextmanager
async def transcode_worker(address: str, stand_ins: StandIns) -> AsyncIterator[Runner]:
    """A worker on a task queue of its own, polling until the block ends."""
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    queue = f"workflow-tests-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TranscodeJob],
        activities=stand_ins.activities(),
        # As the real worker: heartbeats (progress, and the cancellation they bring back) every second.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
    ):
        yield Runner(client, queue)


async def job_when(handle: WorkflowHandle[Any, Job], ready: Callable[[Job], bool]) -> Job:
    """The Job (read with the workflow's query) once `ready` holds for it (within WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        job = await handle.query(QUERY_JOB, result_type=Job)
        if ready(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job.id} never got there: {job.status.value}, {job.outputs}")
        await asyncio.sleep(0.05)
