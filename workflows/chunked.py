"""Split-and-stitch encoding of one output, TranscodeJob's `chunked-encode` step: plan → every chunk
as its own activity on `{task queue}-chunks` (spread over all the workers, each retried alone) → the
stitch (stream copy, audio encoded once, full decode check) → its upload step → the chunks removed.

Deterministic like the workflow: whether to chunk is decided by the plan_chunks activity (the fleet's
chunk slots, the input's frames) and reaches the workflow as that activity's result. A stitched output
that fails its check is encoded whole instead (`None`: the caller's ordinary path), never accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from recast.core import contract
    from recast.core.chunk_payloads import (
        ChunkPlan,
        ChunkPlanRequest,
        ChunkRequest,
        ChunkResult,
        StitchRequest,
    )
    from recast.core.chunking import Chunking, chunk_queue, chunkable, chunks_progress
    from recast.core.job import Job, Output
    from recast.core.payloads import EncodeRequest, EncodeResult, JobParams

from workflows.upload_step import store, worker_gone

SHORT_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=5)
# The stitched file failed its check (or a chunk its frame count): the output is encoded whole instead.
MISMATCH = "stitch-mismatch"


def applies(params: JobParams, request: EncodeRequest) -> bool:
    """Whether this output may be chunked at all (the plan step decides whether it will be): `auto`
    only asks for an output at least RECAST_CHUNKING_MIN_DURATION long, so a short job has no extra
    step."""
    if params.chunking is Chunking.off or not chunkable(request.spec) or request.parts:
        return False
    clip = request.clip
    seconds = request.input_metadata.duration_ms / 1000
    if clip is not None:
        seconds = (clip.end if clip.end is not None else seconds) - clip.start
    wanted = params.chunking is Chunking.on or seconds >= params.settings.chunking_min_duration_s
    # Ladders are chunked since this patch: a run that reached its ladder before it encodes it whole.
    ladder = request.spec.type.is_stream
    return wanted and (not ladder or workflow.patched(contract.CHUNKED_LADDER_PATCH))


async def encode(
    params: JobParams,
    request: EncodeRequest,
    out: Output,
    job: Job,
    options: dict[str, Any],
    on_progress: Callable[[], None],
) -> EncodeResult | None:
    """The output made of chunks, stitched, checked and stored; None when it should be encoded whole
    (the plan said so, or the stitched file failed its check)."""
    try:
        plan: ChunkPlan = await workflow.execute_activity(
            contract.plan_chunks,
            ChunkPlanRequest(
                encode=request, chunking=params.chunking, chunk_duration_s=params.chunk_duration
            ),
            # It reads the input (a download from object storage first): as long as an encode may wait.
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(seconds=params.settings.heartbeat_timeout_s),
            retry_policy=SHORT_RETRY,
        )
    except ActivityError as err:
        if is_cancelled_exception(err):
            raise
        # Planning is an optimisation: whatever went wrong there (a worker of a release without it
        # during a deploy, an input ffprobe cannot list), the output can still be encoded whole.
        workflow.logger.warning("output %s: planning chunks failed (%s); encoding it whole", out.id, err)
        return None
    if not plan.chunked:
        workflow.logger.info("output %s encoded whole: %s", out.id, plan.reason, extra={"output_id": out.id})
        return None
    workflow.logger.info("output %s: %s", out.id, plan.reason, extra={"output_id": out.id})
    try:
        chunks = await _encode_chunks(request, plan, out, options, on_progress)
        result = await _stitch_and_store(params, request, plan, chunks, options, out, job)
    except ActivityError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == MISMATCH:
            workflow.logger.warning(
                "output %s: the stitched output failed its check (%s); encoding it whole",
                out.id,
                cause.message,
                extra={"output_id": out.id},
            )
            return None
        raise
    finally:
        await _remove(plan.prefix)
    out.chunks = len(plan.chunks)
    return result


async def _encode_chunks(
    request: EncodeRequest,
    plan: ChunkPlan,
    out: Output,
    options: dict[str, Any],
    on_progress: Callable[[], None],
) -> list[ChunkResult]:
    """Every chunk at once on the chunk queue; the first to fail for good stops the others."""
    queue = chunk_queue(workflow.info().task_queue)
    done = 0

    async def one(req: ChunkRequest) -> ChunkResult:
        nonlocal done
        result: ChunkResult = await workflow.execute_activity(
            contract.encode_chunk, req, task_queue=queue, **options
        )
        done += 1
        out.progress = max(out.progress, chunks_progress(done, len(plan.chunks)))
        on_progress()
        return result

    ext = request.spec.type.value
    tasks = [
        asyncio.create_task(
            one(
                ChunkRequest(
                    encode=request,
                    chunk=c,
                    rate_num=plan.rate_num,
                    rate_den=plan.rate_den,
                    key=f"{plan.prefix}{c.index:05d}.{ext}",
                )
            )
        )
        for c in plan.chunks
    ]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _stitch_and_store(
    params: JobParams,
    request: EncodeRequest,
    plan: ChunkPlan,
    chunks: list[ChunkResult],
    options: dict[str, Any],
    out: Output,
    job: Job,
) -> EncodeResult:
    """The stitch, then its upload step on the stitching worker; when that worker is gone before the
    upload, stitched again (the chunks are still in storage) on any worker."""
    stitch = StitchRequest(
        encode=request.model_copy(update={"stage_upload": True}),
        chunks=chunks,
        total_frames=plan.total_frames,
        first_frame=min(c.start_frame for c in plan.chunks),  # plans list them longest first
        rate_num=plan.rate_num,
        rate_den=plan.rate_den,
    )
    stitches = 0
    while True:
        stitches += 1
        done = await workflow.execute_activity(contract.stitch_chunks, stitch, **options)
        out.stitch_duration_ms = done.stitch_ms
        job.execution.stitch_duration_ms = (job.execution.stitch_duration_ms or 0) + done.stitch_ms
        result = done.result
        if result.staged is None:
            return result
        try:
            await store(params, result.staged)
            return result.model_copy(update={"staged": None})
        except ActivityError as err:
            if not worker_gone(err) or stitches >= params.settings.encode_attempts:
                raise
            workflow.logger.warning("output %s: the stitching worker is gone, stitching again", out.id)


async def _remove(prefix: str) -> None:
    """Delete the chunks; also after a failure or a cancel (then in a fresh, uncancelled await)."""
    try:
        await workflow.execute_activity(
            contract.remove_chunks,
            prefix,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=SHORT_RETRY,
        )
    except ActivityError:
        workflow.logger.warning("chunks under %s not removed; the cleanup schedule will", prefix)
