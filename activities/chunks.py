"""Split-and-stitch activities: plan_chunks (whether and where to cut an output), encode_chunk (one
chunk's frames, on `{task queue}-chunks`, put in storage so any worker — on this machine or another —
can stitch it), stitch_chunks (join by stream copy, audio encoded once, full decode check, staged for
the upload step) and remove_chunks (the temporary chunks deleted, whatever happened).

Like every output activity they heartbeat (through `output_step`), kill ffmpeg on cancel or stall, and
remove their working folder whatever happens; the chunks in storage are removed by the workflow's last
step (and, as part of the job's folder, by the cleanup schedule should even that never run).
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path

from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from activities import ladder_chunks as ladder
from activities.deps import Deps
from activities.output_step import local_inputs, output_step, run_encode
from activities.scratch import remove
from activities.store import finish_file
from recast.core import contract
from recast.core.chunk_payloads import (
    ChunkPlan,
    ChunkPlanRequest,
    ChunkRange,
    ChunkRequest,
    ChunkResult,
    StitchRequest,
    StitchResult,
)
from recast.core.chunking import Chunking, chunk_queue
from recast.core.payloads import EncodeResult
from recast.core.specs import segment_duration
from recast.infra.storage import chunk_prefix, output_key
from recast.media import chunks, ladder_chunks, probe, remux, renditions, stitch, stitch_check
from recast.media.probe import ffprobe_json
from recast.media.tools import MediaError

log = activity.logger


class ChunkActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.PLAN_CHUNKS)
    async def plan_chunks(self, req: ChunkPlanRequest) -> ChunkPlan:
        # Heartbeats while it reads the input (a long download from object storage, a long listing).
        async with output_step(req.encode, self.deps.scratch) as _:
            return await self._plan(req)
        raise AssertionError("unreachable")  # output_step re-raises every failure

    async def _plan(self, req: ChunkPlanRequest) -> ChunkPlan:
        enc, settings = req.encode, self.deps.settings
        if enc.parts:
            return ChunkPlan(reason="chunking does not do joined inputs yet")
        # (`auto` and a short output: the workflow did not ask, see workflows/chunked.py `applies`.)
        chunk_s = req.chunk_duration_s or settings.chunk_duration_s
        slots = await self._fleet_slots()
        if slots == 0 or (req.chunking is Chunking.auto and slots < 2):
            return ChunkPlan(reason=f"{slots} chunk slot(s) in the fleet")
        src, _ = await local_inputs(self.deps, enc)
        layout = await chunks.frame_layout(src, enc.input_metadata)
        ladder = enc.spec.type.is_stream
        why = chunks.unchunkable(layout, enc.spec)
        if ladder and why is None:
            why = ladder_chunks.unchunkable(enc.spec, layout.rate)
            if why is None and enc.captions:
                why = "caption tracks are added to whole ladders only"
        if why:
            return ChunkPlan(reason=why)
        # An output its input already is gets copied by encode_output (activities/quality.py): no split.
        data = await self.deps.probes.probe_raw(src)
        if not enc.captions and remux.why_encode(enc.spec, enc.input_metadata, data, clip=enc.clip) is None:
            return ChunkPlan(reason="the input's streams are copied as they are (remux)")
        first, end = chunks.frame_span(layout, enc.clip)
        if ladder:  # whole segments: chunk boundaries on segment starts
            seg = segment_duration(enc.spec)
            cut = ladder_chunks.ranges(end - first, layout.rate, chunk_s, seg, first)
        else:
            cut = chunks.ranges(end - first, layout.rate, chunk_s, first, layout.keyframes)
        if len(cut) < 2:
            return ChunkPlan(reason=f"the input is shorter than two chunks of {chunk_s:g} s")
        planned = [
            ChunkRange(index=i, start_frame=a, frames=n, offset=a - first, count=len(cut))
            for i, (a, n) in enumerate(cut)
        ]
        return ChunkPlan(
            # Longest first: the workflow schedules the chunks in this order and Temporal hands them out
            # in it, so long chunks start early and short ones fill in at the end, keeping every worker
            # busy to the last chunk when keyframe boundaries made them unequal (the stitch goes by index).
            chunks=sorted(planned, key=lambda c: -c.frames),
            rate_num=layout.rate.numerator,
            rate_den=layout.rate.denominator,
            total_frames=end - first,
            prefix=chunk_prefix(enc.organization, enc.job_id, enc.output_id),
            reason=f"{len(cut)} chunks of {chunk_s:g} s over {slots} chunk slot(s)",
        )

    async def _fleet_slots(self) -> int:
        """Chunk slots in the fleet: the workers polling the chunk queue (Temporal's DescribeTaskQueue)
        times this worker's RECAST_CHUNK_SLOTS (a fleet runs one configuration)."""
        client = activity.client()
        queue = chunk_queue(self.deps.settings.task_queue)
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
        pollers = {p.identity for p in answer.pollers}
        return len(pollers) * self.deps.settings.chunk_slots

    @activity.defn(name=contract.ENCODE_CHUNK)
    async def encode_chunk(self, req: ChunkRequest) -> ChunkResult:
        enc, chunk = req.encode, req.chunk
        rate = Fraction(req.rate_num, req.rate_den)
        async with output_step(enc, self.deps.scratch) as (progress, workdir):
            # The API folds chunk heartbeats into the output's progress (chunking.live_chunks_progress).
            progress.chunk, progress.chunks = chunk.index, chunk.count or None
            src, _ = await local_inputs(self.deps, enc)
            if enc.spec.type.is_stream:
                return await ladder.encode_chunk(self.deps, req, src, workdir, progress)
            dst = workdir / chunks.chunk_name(chunk.index, enc.spec)
            args = chunks.chunk_command(
                enc.spec, enc.input_metadata, src, dst, chunk.start_frame, chunk.frames, rate
            )
            await run_encode(args, float(chunk.frames / rate), enc, progress)
            got = await _packets(dst)
            if got != chunk.frames:
                raise MediaError(
                    "stitch-mismatch", f"chunk {chunk.index} has {got} frames, expected {chunk.frames}"
                )
            size = await self.deps.storage.adopt_file(req.key, dst)
            return ChunkResult(index=chunk.index, key=req.key, frames=chunk.frames, size=size)
        raise AssertionError("unreachable")  # output_step re-raises every failure

    @activity.defn(name=contract.STITCH_CHUNKS)
    async def stitch_chunks(self, req: StitchRequest) -> StitchResult:
        enc = req.encode
        rate = Fraction(req.rate_num, req.rate_den)
        async with output_step(enc, self.deps.scratch) as (progress, workdir):
            started = time.monotonic()
            src, _ = await local_inputs(self.deps, enc)
            if enc.spec.type.is_stream:
                return await ladder.stitch_ladder(self.deps, req, src, workdir, progress)
            parts = [await self._chunk_file(c, workdir) for c in sorted(req.chunks, key=lambda c: c.index)]
            listing = workdir / "chunks.ffconcat"
            listing.write_text(stitch.concat_list(parts))
            dst = workdir / f"{enc.output_id}.{enc.spec.type.value}"
            args = stitch.stitch_command(
                enc.spec, enc.input_metadata, listing, src, dst, req.total_frames, rate, req.first_frame
            )
            await run_encode(args, float(req.total_frames / rate), enc, progress)
            stitched = time.monotonic()
            report = await stitch_check.full_decode(dst)
            # The same expectations as a whole encode of this output (size, codec, audio, container).
            plan = renditions.encode_plan(enc.spec, enc.input_metadata, src, dst, clip=enc.clip)
            stitch_check.verify(report, req.total_frames, rate, audio=plan.audio_codec is not None)
            data = await self.deps.probes.probe_raw(dst)
            renditions.check_output(data, enc.spec, plan, enc.input_metadata)
            verified = time.monotonic()
            progress.stage = "uploading"
            key = output_key(enc.organization, enc.job_id, enc.output_id, enc.spec.type.value, enc.path)
            size, staged = await finish_file(self.deps, enc, dst, key)
            result = EncodeResult(
                storage_key=key,
                file_size_bytes=size,
                duration_ms=round(probe.duration_s(data) * 1000),
                width=plan.width,
                height=plan.height,
                audio=renditions.audio_info(data),
                staged=staged,
            )
            return StitchResult(
                result=result,
                stitch_ms=round((stitched - started) * 1000),
                verify_ms=round((verified - stitched) * 1000),
            )
        raise AssertionError("unreachable")

    async def _chunk_file(self, chunk: ChunkResult, workdir: Path) -> Path:
        """A local path of an encoded chunk: in place on fs storage, else downloaded into `workdir`
        (removed with it)."""
        local = self.deps.storage.local_path(chunk.key)
        if local is not None:
            return local
        path = workdir / "chunks" / chunk.key.rsplit("/", 1)[-1]
        await self.deps.storage.get_file(chunk.key, path)
        return path

    @activity.defn(name=contract.REMOVE_CHUNKS)
    async def remove_chunks(self, prefix: str) -> int:
        storage = self.deps.storage
        keys = await storage.list_keys(prefix)
        for key in keys:
            await storage.delete(key)
        local = storage.local_path(prefix)
        if local is not None:
            await asyncio.to_thread(remove, local)  # the emptied folder too
        return len(keys)


async def _packets(path: Path) -> int:
    """Video packets in an encoded chunk (one per frame): a demux, no decode."""
    data, _ = await ffprobe_json(
        "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", f"file:{path}"
    )
    streams = (data or {}).get("streams") or [{}]
    return int(streams[0].get("nb_read_packets") or 0)
