"""encode_image and make_thumbnails: still images and thumbnail sets, each one ffmpeg process.

Like encode_output: heartbeats carry progress, a cancel kills ffmpeg, the result is probed before it is
staged for the upload step (or stored), and the working folder goes whatever happens.
"""

from __future__ import annotations

from temporalio import activity

from activities.deps import Deps
from activities.output_step import local_inputs, output_step, run_encode
from activities.store import finish_dir, finish_file
from recast.core import contract
from recast.core.payloads import EncodeRequest, EncodeResult
from recast.core.timeline import output_duration_s
from recast.infra.storage import output_key, output_prefix
from recast.media import images, thumbnails


class ImageActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.ENCODE_IMAGE)
    async def encode_image(self, req: EncodeRequest) -> EncodeResult:
        """One jpg/png/webp/avif: the image input optimized, or a poster frame of a video."""
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await local_inputs(self.deps, req)
            ext = req.spec.type.value
            dst = workdir / f"{req.output_id}.{ext}"
            plan = images.image_plan(req.spec, req.input_metadata, src, dst, parts, req.clip)
            # One picture: ffmpeg's output time says nothing of how far it is (unmeasured, 0).
            await run_encode(plan.args, 0, req, progress)
            images.check_image(await self.deps.probes.probe_raw(dst), ext, plan.width, plan.height)
            progress.stage = "uploading"
            key = output_key(req.organization, req.job_id, req.output_id, ext, req.path)
            size, staged = await finish_file(self.deps, req, dst, key)
            return EncodeResult(
                storage_key=key,
                file_size_bytes=size,
                duration_ms=0,
                width=plan.width,
                height=plan.height,
                staged=staged,
            )
        raise AssertionError("unreachable")  # output_step re-raises every failure

    @activity.defn(name=contract.MAKE_THUMBNAILS)
    async def make_thumbnails(self, req: EncodeRequest) -> EncodeResult:
        """A folder of thumbnails, plus a sprite sheet and its WebVTT index when asked."""
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await local_inputs(self.deps, req)
            folder = workdir / "thumbnails"
            folder.mkdir()
            plan = thumbnails.thumbnails_plan(
                req.spec, req.input_metadata, src, folder, None, parts, req.clip
            )
            # The sprite is written after every thumbnail: one more file to wait for.
            expected = len(plan.images) + (1 if plan.sprite else 0)

            def written() -> float:
                return 100 * sum(1 for _ in folder.iterdir()) / expected

            await run_encode(plan.args, plan.decode_s, req, progress, measure=written)
            thumbnails.check_sequence(
                await thumbnails.probe_sequence(folder, f"{thumbnails.IMAGE_PATTERN}.{plan.format}"), plan
            )
            entry = plan.images[0]
            if plan.sprite:
                sprite = await self.deps.probes.probe_raw(folder / plan.sprite)
                images.check_image(sprite, plan.format, plan.columns * plan.width, plan.rows * plan.height)
                index = thumbnails.sprite_vtt(
                    plan, output_duration_s(req.input_metadata.duration_ms, req.clip)
                )
                (folder / thumbnails.INDEX_NAME).write_text(index, encoding="utf-8")
                entry = thumbnails.INDEX_NAME
            progress.stage = "uploading"
            prefix = output_prefix(req.organization, req.job_id, req.output_id, req.path)
            files, staged = await finish_dir(self.deps, req, folder, prefix)
            return EncodeResult(
                storage_key=prefix,
                file_size_bytes=sum(f.size for f in files),
                duration_ms=0,
                width=plan.width,
                height=plan.height,
                files=files,
                entry=entry,
                staged=staged,
            )
        raise AssertionError("unreachable")
