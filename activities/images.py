"""encode_image and make_thumbnails: still images and thumbnail sets, each one ffmpeg process.

Like encode_output: heartbeats carry progress, a cancel kills ffmpeg, the result is probed before it is
stored, and the scratch folder goes whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.encode import _heartbeat_loop, _previous_percent
from activities.ffmpeg_process import FfmpegFailed, FfmpegStalled, run_ffmpeg
from activities.scratch import local_input, remove, work_dir
from recast import images, media
from recast.models import EncodeProgress, EncodeRequest, EncodeResult
from recast.storage import output_key, output_prefix
from recast.timeline import output_duration_s


@contextlib.asynccontextmanager
async def _step(req: EncodeRequest, scratch: Path) -> AsyncIterator[tuple[EncodeProgress, Path]]:
    """Heartbeats for the whole step, a fresh scratch folder, and media errors as non-retryable failures
    (a file that is not what it should be stays that way)."""
    progress = EncodeProgress(output_id=req.output_id, percent=_previous_percent())
    beat = asyncio.create_task(_heartbeat_loop(progress))
    workdir = work_dir(scratch, req.job_id, req.output_id)
    try:
        yield progress, workdir
    except media.MediaError as exc:
        raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc
    except FfmpegStalled as exc:
        raise ApplicationError(str(exc), type="stalled") from exc
    except FfmpegFailed as exc:
        raise ApplicationError(str(exc), type="encode-failed") from exc
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        remove(workdir)


async def _inputs(deps: Deps, req: EncodeRequest) -> tuple[Path, list[images.Part]]:
    """The local input, and a join's inputs (each a local file, like the single input)."""
    src = await local_input(deps.storage, deps.scratch, req.input_key)
    parts = [(await local_input(deps.storage, deps.scratch, p.key), p.metadata) for p in req.parts]
    return src, parts


async def _run(args: list[str], decode_s: float, req: EncodeRequest, progress: EncodeProgress) -> None:
    def on_progress(percent: float) -> None:
        progress.percent = max(progress.percent, round(percent, 1))

    await run_ffmpeg(args, decode_s, req.stall_timeout_s, on_progress)
    progress.stage, progress.percent = "verifying", 100.0


class ImageActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="encode_image")
    async def encode_image(self, req: EncodeRequest) -> EncodeResult:
        """One jpg/png/webp/avif: the image input optimized, or a poster frame of a video."""
        async with _step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await _inputs(self.deps, req)
            ext = req.spec.type.value
            dst = workdir / f"{req.output_id}.{ext}"
            plan = images.image_plan(req.spec, req.input_metadata, src, dst, parts, req.clip)
            await _run(plan.args, plan.decode_s, req, progress)
            images.check_image(await self.deps.probes.probe_raw(dst), ext, plan.width, plan.height)
            progress.stage = "uploading"
            key = output_key(req.organization, req.job_id, req.output_id, ext, req.path)
            size = await self.deps.storage.adopt_file(key, dst)
            return EncodeResult(
                storage_key=key, file_size_bytes=size, duration_ms=0, width=plan.width, height=plan.height
            )
        raise AssertionError("unreachable")  # _step re-raises every failure

    @activity.defn(name="make_thumbnails")
    async def make_thumbnails(self, req: EncodeRequest) -> EncodeResult:
        """A folder of thumbnails, plus a sprite sheet and its WebVTT index when asked."""
        async with _step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await _inputs(self.deps, req)
            folder = workdir / "thumbnails"
            folder.mkdir()
            plan = images.thumbnails_plan(req.spec, req.input_metadata, src, folder, None, parts, req.clip)
            await _run(plan.args, plan.decode_s, req, progress)
            images.check_sequence(
                await images.probe_sequence(folder, f"{images.IMAGE_PATTERN}.{plan.format}"), plan
            )
            entry = plan.images[0]
            if plan.sprite:
                sprite = await media.probe_raw(folder / plan.sprite)
                images.check_image(sprite, plan.format, plan.columns * plan.width, plan.rows * plan.height)
                index = images.sprite_vtt(plan, output_duration_s(req.input_metadata.duration_ms, req.clip))
                (folder / images.INDEX_NAME).write_text(index, encoding="utf-8")
                entry = images.INDEX_NAME
            progress.stage = "uploading"
            prefix = output_prefix(req.organization, req.job_id, req.output_id, req.path)
            files = await self.deps.storage.adopt_dir(prefix, folder)
            return EncodeResult(
                storage_key=prefix,
                file_size_bytes=sum(f.size for f in files),
                duration_ms=0,
                width=plan.width,
                height=plan.height,
                files=files,
                entry=entry,
            )
        raise AssertionError("unreachable")
