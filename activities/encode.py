"""encode_output: one rendition — encode, check it against what was asked, then leave it in this worker's
scratch for the upload step (store_output, on this worker's own task queue), or store it at once for a
job started before the upload step existed.

A retry on another worker starts over from the input, never looks for a file that only a dead worker
had.
"""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from activities import finishing, quality
from activities.deps import Deps
from activities.output_step import local_inputs, output_step, run_encode
from activities.store import finish_file
from activities.watermark_input import watermark_image
from recast.core import contract
from recast.core.background import RgbColor
from recast.core.payloads import EncodeRequest, EncodeResult
from recast.infra.storage import output_key
from recast.media import background, caption_tracks, probe, renditions


class EncodeActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.ENCODE_OUTPUT)
    async def encode_output(self, req: EncodeRequest) -> EncodeResult:
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await local_inputs(self.deps, req)
            dst = workdir / f"{req.output_id}.{req.spec.type.value}"
            key_color = await _key_color(req, src)
            finish = await finishing.prepare(self.deps, req, src, parts, workdir)  # captions, loudness
            # A MediaError here: e.g. a video output of an audio-only input.
            mark = await watermark_image(self.deps, req)
            plan = renditions.encode_plan(
                req.spec,
                req.input_metadata,
                src,
                dst,
                parts=parts,
                clip=req.clip,
                key_color=key_color,
                loudness=finish.loudness,
                captions=finish.captions,
                watermark_image=mark,
            )
            expected_s = plan.duration_s or req.input_metadata.duration_ms / 1000
            # A copy of the input's streams when they already are what is asked (strategy remux-…).
            strategy = await quality.try_remux(self.deps, req, src, dst, plan, progress, finish)
            if strategy is None:
                await run_encode(plan.args, expected_s, req, progress)
            # The probe check (renditions.check_output) and, beside it, a full decode of a video output.
            data = await quality.checked(self.deps, dst, req, plan)
            if req.spec.background is not None:
                background.check_alpha(data, req.spec.background)
            caption_tracks.check_tracks(data, req.spec, finish.captions)
            audio = await finish.audio_report(renditions.audio_info(data), dst)
            measured = await quality.measure_file(req, dst, plan, src, parts, workdir)
            progress.stage = "uploading"
            key = output_key(req.organization, req.job_id, req.output_id, req.spec.type.value, req.path)
            size, staged = await finish_file(self.deps, req, dst, key)
            return EncodeResult(
                storage_key=key,
                file_size_bytes=size,
                duration_ms=round(probe.duration_s(data) * 1000),
                width=plan.width,
                height=plan.height,
                audio=audio,
                captions=finish.captions.report() if finish.captions else None,
                staged=staged,
                background_color=key_color,
                quality=measured,
                strategy=strategy,
            )
        raise AssertionError("unreachable")  # output_step re-raises every failure


async def _key_color(req: EncodeRequest, src: Path) -> RgbColor | None:
    """With `background`: the colour to key out — given, or detected here, in the output's own activity
    (a retry detects again; the workflow needs no step of its own). A join is sampled on its first input."""
    spec = req.spec.background
    if spec is None:
        return None
    if spec.color != "auto":
        return RgbColor.parse(spec.color)
    if not req.input_metadata.width:
        return None  # no picture: encode_plan refuses the output with no-video-stream
    if req.parts:
        return await background.detect_color(src, req.parts[0].metadata.duration_ms / 1000)
    return await background.detect_color(src, req.input_metadata.duration_ms / 1000, req.clip)
