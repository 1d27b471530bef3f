"""TranscodeJob's controls against a real Temporal dev server, with stand-in activities (no ffmpeg):
the `cancel` update while an encode runs, and `delayed_start` with its `confirm` update or its
confirmation timeout."""

from __future__ import annotations

import asyncio

from recast.core.contract import UPDATE_CANCEL, UPDATE_CONFIRM
from recast.core.job import Job, JobStatus, OutputStatus
from tests.helpers.workflow import StandIns, job_params, job_when, transcode_worker


def test_cancel_mid_encode_keeps_finished_outputs(workflow_server: str) -> None:
    stand_ins = StandIns(encode={"out_done": "ok", "out_long": "block"})

    async def scenario() -> tuple[Job, Job]:
        async with transcode_worker(workflow_server, stand_ins) as runner:
            handle = await runner.start(job_params("out_done", "out_long"))
            await stand_ins.started("out_long")
            await job_when(handle, lambda j: j.outputs[0].status is OutputStatus.completed)
            canceled = await handle.execute_update(UPDATE_CANCEL, result_type=Job)
            return canceled, await handle.result()

    canceled, result = asyncio.run(scenario())
    assert canceled.status is JobStatus.canceled and canceled.error_code == "canceled"
    assert result.model_dump() == canceled.model_dump()  # the update answers with the final Job
    done, long = result.outputs
    assert done.status is OutputStatus.completed and done.download_url  # kept, and signed
    assert long.status is OutputStatus.canceled and long.download_url is None
    # WAIT_CANCELLATION_COMPLETED: the job is canceled only after the encode has seen it.
    assert stand_ins.cancelled == {"out_long"}
    assert result.canceled_at is not None and result.progress == 100


def test_delayed_start_waits_for_confirm(workflow_server: str) -> None:
    stand_ins = StandIns()

    async def scenario() -> tuple[Job, Job, Job]:
        async with transcode_worker(workflow_server, stand_ins) as runner:
            handle = await runner.start(job_params("out_1", delayed_start=True, confirmation_timeout_s=60))
            waiting = await job_when(handle, lambda j: j.status is JobStatus.awaiting_confirmation)
            await asyncio.sleep(0.3)  # time for an encode to start, were it not held
            assert not stand_ins.attempts, "encoded before the job was confirmed"
            confirmed = await handle.execute_update(UPDATE_CONFIRM, result_type=Job)
            return waiting, confirmed, await handle.result()

    waiting, confirmed, result = asyncio.run(scenario())
    assert waiting.input_metadata is not None and waiting.total_estimated_cost  # probed and priced first
    assert confirmed.status is not JobStatus.awaiting_confirmation and confirmed.confirmed_at
    assert result.status is JobStatus.completed and result.outputs[0].status is OutputStatus.completed
    assert result.execution.confirmation_wait_ms is not None
    assert stand_ins.attempts == {"out_1": [1]}


def test_unconfirmed_job_is_canceled_at_the_confirmation_timeout(workflow_server: str) -> None:
    stand_ins = StandIns()

    async def scenario() -> Job:
        async with transcode_worker(workflow_server, stand_ins) as runner:
            handle = await runner.start(job_params("out_1", delayed_start=True, confirmation_timeout_s=1))
            return await asyncio.wait_for(handle.result(), 15)

    result = asyncio.run(scenario())
    assert result.status is JobStatus.canceled and result.error_code == "confirmation-timeout"
    assert "not confirmed within 1 seconds" in (result.error_message or "")
    assert result.outputs[0].status is OutputStatus.canceled and result.confirmed_at is None
    assert not stand_ins.attempts  # nothing was encoded
