"""make_animation and make_waveform: animated previews (gif, animated webp) and audio waveforms (a PNG
and a JSON of peaks), each one ffmpeg process.

Like the other output activities: heartbeats carry progress, a cancel kills ffmpeg, the result is
checked before it is staged for the upload step (or stored), and the working folder goes whatever
happens.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.deps import Deps
from activities.output_step import local_inputs, output_step, run_encode
from activities.store import finish_dir, finish_file
from recast.core import contract
from recast.core.payloads import EncodeRequest, EncodeResult
from recast.infra.storage import output_key, output_prefix
from recast.media import previews, waveform
from recast.media.probe import ffprobe_json
from recast.media.tools import MediaError


class PreviewActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.MAKE_ANIMATION)
    async def make_animation(self, req: EncodeRequest) -> EncodeResult:
        """A gif (palette pass) or an animated webp of a clip of the input."""
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await local_inputs(self.deps, req)
            ext = req.spec.type.value
            dst = workdir / f"{req.output_id}.{ext}"
            plan = previews.animation_plan(req.spec, req.input_metadata, src, dst, parts, req.clip)
            await run_encode(plan.args, plan.duration_s, req, progress)
            if ext == "gif":
                got = previews.read_gif(await _count_frames(dst))
            else:
                got = previews.read_webp(await asyncio.to_thread(dst.read_bytes))
            previews.check_animation(got, plan, ext)
            progress.stage = "uploading"
            key = output_key(req.organization, req.job_id, req.output_id, ext, req.path)
            size, staged = await finish_file(self.deps, req, dst, key)
            return EncodeResult(
                storage_key=key,
                file_size_bytes=size,
                duration_ms=round(got.duration_s * 1000),
                width=plan.width,
                height=plan.height,
                staged=staged,
            )
        raise AssertionError("unreachable")  # output_step re-raises every failure

    @activity.defn(name=contract.MAKE_WAVEFORM)
    async def make_waveform(self, req: EncodeRequest) -> EncodeResult:
        """A folder: waveform.png and waveform.json (the peaks), from one decode of the audio."""
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await local_inputs(self.deps, req)
            folder = workdir / "waveform"
            folder.mkdir()
            plan = waveform.waveform_plan(
                req.spec, req.input_metadata, src, folder, workdir / waveform.PCM_NAME, parts, req.clip
            )
            await run_encode(plan.args, plan.duration_s, req, progress)
            peaks = await asyncio.to_thread(waveform.write_peaks, plan, folder)
            png = await self.deps.probes.probe_raw(folder / waveform.PNG_NAME)
            waveform.check_waveform(png, peaks, plan)
            progress.stage = "uploading"
            prefix = output_prefix(req.organization, req.job_id, req.output_id, req.path)
            files, staged = await finish_dir(self.deps, req, folder, prefix)
            return EncodeResult(
                storage_key=prefix,
                file_size_bytes=sum(f.size for f in files),
                duration_ms=round(plan.duration_s * 1000),
                width=plan.width,
                height=plan.height,
                files=files,
                entry=waveform.PNG_NAME,
                staged=staged,
            )
        raise AssertionError("unreachable")


async def _count_frames(path: object) -> dict[str, object]:
    """ffprobe a GIF Recast wrote, decoding every frame (nb_read_frames)."""
    data, err = await ffprobe_json(
        "-protocol_whitelist", "file", "-count_frames", "-show_streams", "-show_format", f"file:{path}"
    )  # fmt: skip
    if data is None:
        raise MediaError("output-mismatch", "the gif cannot be read back: " + " ".join(err)[-300:])
    return data
