"""package_stream: an hls/dash output — encode the whole ladder in one ffmpeg run, check the package,
store its folder.

Like encode_output, everything happens in this one activity on one worker (the package exists only
in its scratch folder until stored), heartbeats carry the progress, a cancel kills ffmpeg, and the
scratch folder is removed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.encode import _heartbeat_loop, _previous_percent
from activities.ffmpeg_process import FfmpegFailed, FfmpegStalled, run_ffmpeg
from activities.scratch import local_input, remove, work_dir
from recast import media, streaming
from recast.models import AudioInfo, EncodeProgress, EncodeRequest, EncodeResult
from recast.storage import output_prefix


class StreamActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="package_stream")
    async def package_stream(self, req: EncodeRequest) -> EncodeResult:
        progress = EncodeProgress(output_id=req.output_id, percent=_previous_percent())
        beat = asyncio.create_task(_heartbeat_loop(progress))
        workdir = work_dir(self.deps.scratch, req.job_id, req.output_id)
        package = workdir / "package"
        package.mkdir()
        try:
            src = await local_input(self.deps.storage, self.deps.scratch, req.input_key)
            parts = [
                (await local_input(self.deps.storage, self.deps.scratch, part.key), part.metadata)
                for part in req.parts
            ]
            try:
                plan = streaming.ladder_plan(
                    req.spec, req.input_metadata, src, package, parts=parts, clip=req.clip
                )
            except media.MediaError as exc:  # a ladder from an audio-only input
                raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc

            def on_progress(percent: float) -> None:
                progress.percent = max(progress.percent, round(percent, 1))

            try:
                await run_ffmpeg(plan.args, plan.duration_s, req.stall_timeout_s, on_progress)
            except FfmpegStalled as exc:
                raise ApplicationError(str(exc), type="stalled") from exc
            except FfmpegFailed as exc:
                raise ApplicationError(str(exc), type="encode-failed") from exc

            progress.stage, progress.percent = "verifying", 100.0
            try:
                info = await streaming.check_package(package, req.spec, plan, req.input_metadata, workdir)
            except media.MediaError as exc:
                raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc

            progress.stage = "uploading"
            prefix = output_prefix(req.organization, req.job_id, req.output_id, req.path)
            files = await self.deps.storage.adopt_dir(prefix, package)
            top = max(plan.rungs, key=lambda r: r.width * r.height)
            audio = info.audio
            return EncodeResult(
                storage_key=prefix + plan.entry,
                file_size_bytes=sum(f.size for f in files),
                duration_ms=round(info.duration_s * 1000),
                width=top.width,
                height=top.height,
                audio=AudioInfo(
                    codec=audio.get("codec_name", "unknown"),
                    bitrate_kbps=req.spec.audio_bitrate_kbps,
                    channels=audio.get("channels"),
                    sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
                )
                if audio
                else None,
                files=files,
                entry=plan.entry,
            )
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            remove(workdir)
