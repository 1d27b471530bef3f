"""The upload step's decisions in TranscodeJob, with stand-in activities (no ffmpeg, no storage): the
encode stand-in stages its result on an upload queue of the test's own, where a stand-in store_output
fails as told. A store failing every time fails the output (`upload-failed`) without encoding again; a
staged result that is gone has the output encoded again; the job is `uploading` while its last outputs
are stored. (tests/e2e/test_upload_step.py does the same with a real store and real workers.)"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from recast.core.contract import ENCODE_OUTPUT, STORE_OUTPUT
from recast.core.job import Job, JobStatus, OutputStatus, Stage
from recast.core.payloads import EncodeRequest, EncodeResult, StagedOutput
from tests.helpers.workflow import StandIns, job_params, job_when, transcode_worker

Store = Literal["ok", "fail", "missing-once", "block"]


@dataclass
class StagingStandIns(StandIns):
    """StandIns whose encode stages its result on `upload_queue`; store_output does what `store` says."""

    upload_queue: str = field(default_factory=lambda: f"uploads-{uuid.uuid4().hex[:8]}")
    store: dict[str, Store] = field(default_factory=dict)
    encodes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stores: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def activities(self) -> list[Any]:
        return [a for a in super().activities() if a.__name__ != "encode_output"] + [self.encode_staged]

    @activity.defn(name=ENCODE_OUTPUT)
    async def encode_staged(self, req: EncodeRequest) -> EncodeResult:
        assert req.stage_upload  # the workflow asks for the upload step
        self.encodes[req.output_id] += 1
        key = f"{req.organization}/jobs/{req.job_id}/outputs/{req.output_id}.mp4"
        return EncodeResult(
            storage_key=key,
            file_size_bytes=40_000,
            duration_ms=req.input_metadata.duration_ms,
            staged=StagedOutput(
                task_queue=self.upload_queue,
                path=f"/scratch/staged/{req.output_id}.mp4",
                key=key,
                job_id=req.job_id,
                output_id=req.output_id,
            ),
        )

    @activity.defn(name=STORE_OUTPUT)
    async def store_output(self, staged: StagedOutput) -> int:
        out = staged.output_id
        self.stores[out].append(activity.info().attempt)
        match self.store.get(out, "ok"):
            case "fail":
                raise ApplicationError("storing the output failed: 503 SlowDown", type="upload-failed")
            case "missing-once" if len(self.stores[out]) == 1:
                raise ApplicationError(
                    "not in this worker's scratch", type="staged-missing", non_retryable=True
                )
            case "block":
                await self.release.wait()
        return 40_000


def run(stand_ins: StagingStandIns, address: str, *outputs: str, during: Any = None, **settings: Any) -> Job:
    async def scenario() -> Job:
        async with transcode_worker(address, stand_ins) as runner:
            async with Worker(
                runner.client, task_queue=stand_ins.upload_queue, activities=[stand_ins.store_output]
            ):
                handle = await runner.start(job_params(*outputs, upload_attempts=3, **settings))
                if during:
                    await during(handle)
                return await asyncio.wait_for(handle.result(), 30)

    return asyncio.run(scenario())


def test_a_store_failing_every_time_fails_the_output_without_encoding_again(workflow_server: str) -> None:
    stand_ins = StagingStandIns(store={"out_bad": "fail"})
    result = run(stand_ins, workflow_server, "out_good", "out_bad")
    good, bad = result.outputs
    assert good.status is OutputStatus.completed and good.download_url
    assert bad.status is OutputStatus.failed and bad.error_code == "upload-failed"
    assert result.status is JobStatus.partial
    assert stand_ins.encodes == {"out_good": 1, "out_bad": 1}
    assert stand_ins.stores["out_bad"] == [1, 2, 3]  # RECAST_UPLOAD_ATTEMPTS=3, all on their own


def test_a_staged_result_that_is_gone_is_encoded_again(workflow_server: str) -> None:
    stand_ins = StagingStandIns(store={"out_1": "missing-once"})
    result = run(stand_ins, workflow_server, "out_1")
    assert result.status is JobStatus.completed
    assert stand_ins.encodes["out_1"] == 2
    assert stand_ins.stores["out_1"] == [1, 1]  # not retried in place: a new encode, a new upload


def test_the_job_is_uploading_while_its_last_outputs_are_stored(workflow_server: str) -> None:
    stand_ins = StagingStandIns(store={"out_1": "block"})

    async def during(handle: Any) -> None:
        job = await job_when(handle, lambda j: j.stage is Stage.uploading)
        assert job.status is JobStatus.processing and job.outputs[0].progress == 99
        assert job.outputs[0].status is OutputStatus.processing
        stand_ins.release.set()

    result = run(stand_ins, workflow_server, "out_1", during=during)
    assert result.status is JobStatus.completed and result.outputs[0].status is OutputStatus.completed
