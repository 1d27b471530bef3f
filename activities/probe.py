"""probe_input: ffprobe the input and summarise it as the job's input_metadata."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.scratch import local_input
from recast.core import contract
from recast.core.job import InputMetadata
from recast.media import probe, tools


class ProbeActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.PROBE_INPUT)
    async def probe_input(self, storage_key: str) -> InputMetadata:
        path = await local_input(self.deps.storage, self.deps.scratch, storage_key)
        try:
            raw = await self.deps.probes.probe_raw(path)
            meta = probe.input_metadata(raw, path.stat().st_size)
            self._within_limits(meta)  # before any further decoding
            # Only decoding proves the streams are sound. ffprobe decoded the first packet already; a
            # separate decode runs only when that did not show a frame of the main stream.
            if not probe.first_frame_decoded(raw):
                await probe.decode_check(path)
        except tools.MediaError as exc:
            # A file that is not media stays that way: fail once, no retry storm.
            raise ApplicationError(str(exc), type=exc.code, non_retryable=True) from exc
        return meta

    def _within_limits(self, meta: InputMetadata) -> None:
        settings = self.deps.settings
        pixels = (meta.width or 0) * (meta.height or 0)
        if pixels > settings.max_pixels:
            raise tools.MediaError(
                "too-large",
                f"the input's frames are {meta.width}x{meta.height} ({pixels / 1e6:.1f} megapixels), "
                f"more than the limit of {settings.max_pixels / 1e6:g} megapixels",
            )
        if meta.duration_ms > settings.max_duration_s * 1000:
            raise tools.MediaError(
                "too-long",
                f"the input lasts {meta.duration_ms / 1000:.1f} s, longer than the limit of "
                f"{settings.max_duration_s:g} s",
            )
