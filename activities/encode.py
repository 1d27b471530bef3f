"""encode_output: one rendition — encode, check it against what was asked, then leave it in this worker's
scratch for the upload step (store_output, on this worker's own task queue), or store it at once for a
job started before the upload step existed.

A retry on another worker starts over from the input, never looks for a file that only a dead worker
had.
"""

from __future__ import annotations

from temporalio import activity

from activities.deps import Deps
from activities.output_step import local_inputs, output_step, run_encode
from activities.store import finish_file
from activities.watermark_input import watermark_image
from recast.core import contract
from recast.core.payloads import EncodeRequest, EncodeResult
from recast.infra.storage import output_key
from recast.media import probe, renditions


class EncodeActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.ENCODE_OUTPUT)
    async def encode_output(self, req: EncodeRequest) -> EncodeResult:
        async with output_step(req, self.deps.scratch) as (progress, workdir):
            src, parts = await local_inputs(self.deps, req)
            dst = workdir / f"{req.output_id}.{req.spec.type.value}"
            # A MediaError here: e.g. a video output of an audio-only input.
            mark = await watermark_image(self.deps, req)
            plan = renditions.encode_plan(
                req.spec, req.input_metadata, src, dst, parts=parts, clip=req.clip, watermark_image=mark
            )
            expected_s = plan.duration_s or req.input_metadata.duration_ms / 1000
            await run_encode(plan.args, expected_s, req, progress)
            data = await self.deps.probes.probe_raw(dst)
            renditions.check_output(data, req.spec, plan, req.input_metadata)
            progress.stage = "uploading"
            key = output_key(req.organization, req.job_id, req.output_id, req.spec.type.value, req.path)
            size, staged = await finish_file(self.deps, req, dst, key)
            return EncodeResult(
                storage_key=key,
                file_size_bytes=size,
                duration_ms=round(probe.duration_s(data) * 1000),
                width=plan.width,
                height=plan.height,
                audio=renditions.audio_info(data),
                staged=staged,
            )
        raise AssertionError("unreachable")  # output_step re-raises every failure
