"""encode_output: one rendition — encode, check it against what was asked, upload it.

The rendition's file exists only on the worker that encoded it, so the upload is the last step of
this same activity: a retry on another worker starts over from the input, never looks for a file
that only a dead worker had.
"""

from __future__ import annotations

import asyncio
import contextlib

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.ffmpeg_process import FfmpegFailed, FfmpegStalled, run_ffmpeg
from activities.scratch import local_input, remove, work_dir
from recast import media
from recast.models import EncodeProgress, EncodeRequest, EncodeResult
from recast.storage import output_key

HEARTBEAT_EVERY_S = 1.0


class EncodeActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="encode_output")
    async def encode_output(self, req: EncodeRequest) -> EncodeResult:
        progress = EncodeProgress(output_id=req.output_id, percent=_previous_percent())
        # Heartbeats run on their own clock: they say "this worker is alive" even while ffmpeg is
        # quiet, and carry the latest progress for the API to show.
        beat = asyncio.create_task(_heartbeat_loop(progress))
        workdir = work_dir(self.deps.scratch, req.job_id, req.output_id)
        try:
            src = await local_input(self.deps.storage, self.deps.scratch, req.input_key)
            # A join reads every input (each a local file, like the single input).
            parts = [
                (await local_input(self.deps.storage, self.deps.scratch, part.key), part.metadata)
                for part in req.parts
            ]
            dst = workdir / f"{req.output_id}.{req.spec.type.value}"
            try:
                plan = media.encode_plan(req.spec, req.input_metadata, src, dst, parts=parts, clip=req.clip)
            except media.MediaError as exc:  # e.g. a video output of an audio-only input
                raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc

            def on_progress(percent: float) -> None:
                # A retry starts from zero; hold what was already shown so progress never goes back.
                progress.percent = max(progress.percent, round(percent, 1))

            try:
                expected_s = plan.duration_s or req.input_metadata.duration_ms / 1000
                await run_ffmpeg(plan.args, expected_s, req.stall_timeout_s, on_progress)
            except FfmpegStalled as exc:
                raise ApplicationError(str(exc), type="stalled") from exc
            except FfmpegFailed as exc:
                raise ApplicationError(str(exc), type="encode-failed") from exc

            progress.stage, progress.percent = "verifying", 100.0
            data = await self.deps.probes.probe_raw(dst)
            try:
                media.check_output(data, req.spec, plan, req.input_metadata)
            except media.MediaError as exc:
                raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc

            progress.stage = "uploading"
            key = output_key(req.organization, req.job_id, req.output_id, req.spec.type.value, req.path)
            size = await self.deps.storage.adopt_file(key, dst)
            return EncodeResult(
                storage_key=key,
                file_size_bytes=size,
                duration_ms=round(media.duration_s(data) * 1000),
                width=plan.width,
                height=plan.height,
                audio=media.audio_info(data),
            )
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            remove(workdir)


def _previous_percent() -> float:
    """The percent the previous attempt reported (heartbeat details come back as plain dicts)."""
    details = activity.info().heartbeat_details
    if details and isinstance(details[0], dict):
        return float(details[0].get("percent", 0.0))
    return 0.0


async def _heartbeat_loop(progress: EncodeProgress) -> None:
    while True:
        activity.heartbeat(progress.model_dump())
        await asyncio.sleep(HEARTBEAT_EVERY_S)
