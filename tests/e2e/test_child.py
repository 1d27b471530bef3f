"""A Recast job run as another workflow's child, through the `recast.client.child` interface.

The parent workflow below is what another project writes: it runs on its own worker and task queue,
starts `TranscodeJob` on the shared test stack's queue (whose worker does the encoding), and gets the
Job back. The job must be an ordinary job to the API, and cancelling the parent must cancel it.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
    from temporalio.worker import Worker

    from recast.client import child
    from recast.devstack.stack import Stack
    from tests.helpers import ORG, TERMINAL, Api, alive, ffmpeg_pids, ffprobe, long_clip, make_clip, stream


@dataclass
class PublishRequest:
    url: str
    recast_task_queue: str
    resolution: str = "480p"
    codec: str = "h264"
    output_type: str = "mp4"


@workflow.defn
class PublishVideo:
    """A parent workflow of another project: transcode a video through Recast, return the Job."""

    def __init__(self) -> None:
        self.job_id: str | None = None

    @workflow.query
    def recast_job_id(self) -> str | None:
        return self.job_id

    @workflow.run
    async def run(self, req: PublishRequest) -> child.Job:
        params = child.job_params(
            job_id="job_" + workflow.uuid4().hex[:20],
            organization=ORG,
            input_url=req.url,
            outputs=[{"type": req.output_type, "video": {"codec": req.codec, "resolution": req.resolution}}],
            metadata={"parent": workflow.info().workflow_id},
            created_at=workflow.now(),
        )
        handle = await workflow.start_child_workflow(
            child.WORKFLOW,
            params,
            id=params.job_id,
            task_queue=req.recast_task_queue,
            result_type=child.Job,
            priority=child.temporal_priority(params),
        )
        # Told only once the child has started, so the API already knows the job when a test asks.
        self.job_id = params.job_id
        job: child.Job = await handle
        return job


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Loopback HTTP serving a short 720p clip and a long one (an encode that takes a while)."""
    d = tmp_path_factory.mktemp("child-media")
    make_clip(d / "short720.mp4", seconds=2, size="1280x720")
    long_clip(d / "long720.mp4", seconds=20)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(d))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def _with_parent_worker(
    temporal: Stack, scenario: Any
) -> Any:  # scenario: async (client, parent task queue) -> result
    # As another project would: Temporal's environment configuration, the pydantic converter built in.
    client = await child.connect(env={"TEMPORAL_ADDRESS": temporal.env["TEMPORAL_ADDRESS"]})
    queue = f"parent-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[PublishVideo]):
        return await scenario(client, queue)


async def _job_id_of(handle: WorkflowHandle[Any, Any]) -> str:
    for _ in range(600):
        job_id: str | None = await handle.query(PublishVideo.recast_job_id)
        if job_id:
            return job_id
        await asyncio.sleep(0.05)
    raise AssertionError("the parent never started its Recast job")


def test_parent_workflow_runs_a_job_as_child(
    temporal: Stack, stack: Stack, api: Api, other_api: Api, media_server: str, tmp_path: Path
) -> None:
    req = PublishRequest(url=f"{media_server}/short720.mp4", recast_task_queue=stack.env["RECAST_TASK_QUEUE"])

    async def scenario(client: Client, queue: str) -> tuple[child.Job, str]:
        parent_id = f"publish-{uuid.uuid4().hex[:8]}"
        job = await client.execute_workflow(
            PublishVideo.run, req, id=parent_id, task_queue=queue, execution_timeout=timedelta(minutes=2)
        )
        return job, parent_id

    job, parent_id = asyncio.run(_with_parent_worker(temporal, scenario))

    # The parent got the final Job back as a typed value.
    assert isinstance(job, child.Job)
    assert job.status is child.JobStatus.completed, job
    assert job.organization == ORG and job.id.startswith("job_")
    assert job.metadata == {"parent": parent_id}
    [out] = job.outputs
    assert out.status is child.OutputStatus.completed
    assert (out.width, out.height) == (854, 480)

    # The API serves the same job to its organization, and only to it.
    seen = api.job(job.id)
    assert seen["status"] == "completed" and seen["organization"] == ORG
    assert [o["id"] for o in seen["outputs"]] == [out.id]
    assert seen["input"]["url"] == req.url
    assert other_api.http.get(f"/v1/jobs/{job.id}").status_code == 404
    # Listed too: the child set its own search attributes (the API sets them only on jobs it starts).
    for _ in range(50):
        listed = api.http.get("/v1/jobs", params={"status": "completed", "limit": 100}).json()["data"]
        if any(j["id"] == job.id for j in listed):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the child job is not listed")

    api.download(job.id, out.id, tmp_path / "o.mp4")
    data = ffprobe(tmp_path / "o.mp4")
    video = stream(data, "video")
    assert video is not None
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 854, 480)
    assert abs(float(data["format"]["duration"]) - 2.0) <= 0.1


ACTIVITY_FOLLOW_UPS = (
    "activity_task_started_event_attributes",
    "activity_task_cancel_requested_event_attributes",
    "activity_task_canceled_event_attributes",
    "activity_task_completed_event_attributes",
    "activity_task_failed_event_attributes",
)


def encode_events(temporal: Stack, job_id: str) -> list[str]:
    """Event types of the job's `encode_output` activity, in history order."""

    async def read() -> list[str]:
        client = await Client.connect(temporal.env["RECAST_TEMPORAL_ADDRESS"])
        encode_ids: set[int] = set()
        seen = []
        async for event in client.get_workflow_handle(job_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                if event.activity_task_scheduled_event_attributes.activity_type.name == "encode_output":
                    encode_ids.add(event.event_id)
                    seen.append(EventType.Name(event.event_type))
                continue
            which = event.WhichOneof("attributes")
            if which in ACTIVITY_FOLLOW_UPS:
                if getattr(event, which).scheduled_event_id in encode_ids:
                    seen.append(EventType.Name(event.event_type))
        return seen

    return asyncio.run(read())


def test_cancelling_the_parent_cancels_the_job(
    temporal: Stack, stack: Stack, api: Api, media_server: str
) -> None:
    # VP9 of 20 s of 720p takes far longer than the test waits before cancelling.
    req = PublishRequest(
        url=f"{media_server}/long720.mp4",
        recast_task_queue=stack.env["RECAST_TASK_QUEUE"],
        resolution="720p",
        codec="vp9",
        output_type="webm",
    )

    async def scenario(client: Client, queue: str) -> tuple[str, dict[str, Any], list[int], float, Any]:
        handle = await client.start_workflow(
            PublishVideo.run,
            req,
            id=f"publish-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(minutes=2),
        )
        job_id = await _job_id_of(handle)
        processing = await asyncio.to_thread(api.wait, job_id, 60, {"processing", "canceled", *TERMINAL})
        assert processing["status"] == "processing", processing
        for _ in range(600):
            if pids := ffmpeg_pids(job_id):
                break
            await asyncio.sleep(0.05)
        assert pids, "the encode never started"

        cancelled_at = time.monotonic()
        await handle.cancel()
        try:
            result: Any = await handle.result()
        except WorkflowFailureError as err:
            result = err
        return job_id, processing, pids, time.monotonic() - cancelled_at, result

    job_id, processing, pids, took, parent_outcome = asyncio.run(_with_parent_worker(temporal, scenario))
    assert processing["organization"] == ORG

    # TranscodeJob answers a cancellation by completing with the canceled Job, and the SDK lets the
    # child's outcome decide: the parent's execute_child_workflow returns that Job, so this parent
    # (which just returns it) completes rather than ending cancelled.
    assert isinstance(parent_outcome, child.Job), parent_outcome
    assert parent_outcome.id == job_id and parent_outcome.status is child.JobStatus.canceled

    # The job itself was cancelled, not terminated: it completed with status canceled, ffmpeg is gone.
    done = api.job(job_id)
    assert done["status"] == "canceled", done
    assert done["error_code"] == "canceled"
    assert [o["status"] for o in done["outputs"]] == ["canceled"]
    assert done["canceled_at"] is not None
    assert not any(alive(p) for p in pids), "ffmpeg outlived the cancelled job"
    assert took < 15, f"cancelling took {took:.1f}s"
    # The encode was started, asked to cancel, and ended cancelled (the Started event of an activity is
    # written when it ends, so its place in the history varies).
    events = encode_events(temporal, job_id)
    assert sorted(events) == sorted(
        [
            "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
            "EVENT_TYPE_ACTIVITY_TASK_STARTED",
            "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED",
            "EVENT_TYPE_ACTIVITY_TASK_CANCELED",
        ]
    ), events
    assert events[-1] == "EVENT_TYPE_ACTIVITY_TASK_CANCELED", events

    async def statuses() -> tuple[WorkflowExecutionStatus | None, WorkflowExecutionStatus | None]:
        client = await Client.connect(temporal.env["RECAST_TEMPORAL_ADDRESS"])
        job_desc = await client.get_workflow_handle(job_id).describe()
        parent = job_desc.parent_id
        assert parent is not None, "the job was not started as a child"
        parent_desc = await client.get_workflow_handle(parent).describe()
        return job_desc.status, parent_desc.status

    job_status, parent_status = asyncio.run(statuses())
    assert job_status == WorkflowExecutionStatus.COMPLETED  # the Job is its result, readable without a worker
    assert parent_status == WorkflowExecutionStatus.COMPLETED
