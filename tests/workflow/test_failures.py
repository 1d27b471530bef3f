"""How TranscodeJob ends when activities fail, against a real Temporal dev server with stand-in
activities (no ffmpeg): one output failing for good, an encode failing on every attempt, and webhook
deliveries that never succeed."""

from __future__ import annotations

import asyncio
import time

from recast.core.job import Job, JobStatus, OutputStatus
from recast.core.webhooks import EVENT_OUTPUT_COMPLETED, EVENT_STATUS_CHANGED
from tests.helpers.workflow import StandIns, job_params, transcode_worker


def test_one_output_failing_for_good_makes_the_job_partial(workflow_server: str) -> None:
    stand_ins = StandIns(encode={"out_good": "ok", "out_bad": "mismatch"})

    async def scenario() -> Job:
        async with transcode_worker(workflow_server, stand_ins) as runner:
            handle = await runner.start(job_params("out_good", "out_bad", encode_attempts=3))
            return await handle.result()

    result = asyncio.run(scenario())
    assert result.status is JobStatus.partial
    good, bad = result.outputs
    assert good.status is OutputStatus.completed and good.download_url and good.file_size_bytes == 40_000
    assert bad.status is OutputStatus.failed and bad.error_code == "output-mismatch"
    assert (result.error_code, result.error_message) == (bad.error_code, bad.error_message)
    assert stand_ins.attempts["out_bad"] == [1]  # a mismatch is not retried


def test_an_encode_failing_every_time_fails_after_the_configured_attempts(workflow_server: str) -> None:
    stand_ins = StandIns(encode={"out_1": "flaky"})

    async def scenario() -> Job:
        async with transcode_worker(workflow_server, stand_ins) as runner:
            handle = await runner.start(job_params("out_1", encode_attempts=2))
            return await handle.result()

    result = asyncio.run(scenario())
    assert stand_ins.attempts["out_1"] == [1, 2]
    out = result.outputs[0]
    assert out.status is OutputStatus.failed and out.error_code == "encode-failed"
    assert out.error_message == "ffmpeg exited with status 1"
    assert result.status is JobStatus.failed and result.error_code == "encode-failed"


def test_webhooks_that_always_fail_are_given_up_without_failing_the_job(workflow_server: str) -> None:
    stand_ins = StandIns(webhook_fails=True)
    retry_s = 2.0

    async def scenario() -> tuple[Job, float]:
        async with transcode_worker(workflow_server, stand_ins) as runner:
            handle = await runner.start(job_params("out_1", webhook=True, webhook_retry_s=retry_s))
            result = await asyncio.wait_for(handle.result(), 20)
            finished = time.monotonic()
            await asyncio.sleep(1.5)  # the worker still polls: a retry would be delivered now
            return result, finished

    result, finished = asyncio.run(scenario())
    assert result.status is JobStatus.completed and result.outputs[0].status is OutputStatus.completed
    events = {d.event for d in stand_ins.deliveries}
    assert events == {EVENT_STATUS_CHANGED, EVENT_OUTPUT_COMPLETED}
    by_delivery: dict[str, list[float]] = {}
    for d in stand_ins.deliveries:
        by_delivery.setdefault(d.delivery_id, []).append(d.at)
    for times in by_delivery.values():
        # Retried (1 s, then 2 s backoff), but only within the schedule-to-close of webhook_retry_s.
        assert len(times) >= 2, by_delivery
        assert times[-1] - times[0] < retry_s
    assert max(d.at for d in stand_ins.deliveries) <= finished  # nothing after the job ended
