"""package_stream: an hls/dash output — encode the whole ladder in one ffmpeg run, check the package,
then stage its folder for the upload step (or store it, for a job started before that step existed).

Like encode_output: heartbeats carry the progress, a cancel kills ffmpeg, and the working folder is
removed whatever happens.
"""

from __future__ import annotations

from temporalio import activity

from activities import finishing, quality
from activities.deps import Deps
from activities.output_step import local_inputs, output_step, run_encode
from activities.store import finish_dir
from activities.watermark_input import watermark_image
from recast.core import contract
from recast.core.job import AudioInfo
from recast.core.payloads import EncodeRequest, EncodeResult
from recast.infra.storage import output_prefix
from recast.media import caption_tracks, streaming


class StreamActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.PACKAGE_STREAM)
    async def package_stream(self, req: EncodeRequest) -> EncodeResult:
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            package = workdir / "package"
            package.mkdir()
            src, parts = await local_inputs(self.deps, req)
            # A MediaError here: a ladder from an audio-only input.
            finish = await finishing.prepare(self.deps, req, src, parts, workdir)  # captions, loudness
            mark = await watermark_image(self.deps, req)
            plan = streaming.ladder_plan(
                req.spec,
                req.input_metadata,
                src,
                package,
                parts=parts,
                clip=req.clip,
                loudness=finish.loudness,
                captions=finish.captions,
                watermark_image=mark,
            )
            await run_encode(plan.args, plan.duration_s, req, progress)
            info = await streaming.check_package(package, req.spec, plan, req.input_metadata, workdir)
            caption_tracks.add_package_tracks(package, req.spec, plan.entry, info.rungs, finish.captions)
            # Every rung decoded in full, then (with `metrics`) measured against the source.
            joined = await quality.verify_package(package, plan, req.input_metadata, workdir, parts)
            measured = await quality.measure_package(req, joined, plan, src, parts, workdir)
            audio = info.audio
            audio_info = (
                AudioInfo(
                    codec=audio.get("codec_name", "unknown"),
                    bitrate_kbps=req.spec.audio_bitrate_kbps,
                    channels=audio.get("channels"),
                    sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
                )
                if audio
                else None
            )
            audio_info = await finishing.package_audio_report(finish, audio_info, package, req.spec)
            progress.stage = "uploading"
            prefix = output_prefix(req.organization, req.job_id, req.output_id, req.path)
            files, staged = await finish_dir(self.deps, req, package, prefix)
            top = max(plan.rungs, key=lambda r: r.width * r.height)
            return EncodeResult(
                storage_key=prefix + plan.entry,
                file_size_bytes=sum(f.size for f in files),
                duration_ms=round(info.duration_s * 1000),
                width=top.width,
                height=top.height,
                audio=audio_info,
                captions=finish.captions.report() if finish.captions else None,
                files=files,
                entry=plan.entry,
                staged=staged,
                quality=measured,
            )
        raise AssertionError("unreachable")  # output_step re-raises every failure
