"""The finishing steps around an output activity's encode (encode_output, package_stream): the job's
caption files fetched, checked and converted, and the loudness measuring pass, before it; the
output's loudness measured and reported after it.

Caption files are fetched here, inside the output activity, with the same guards as an input
(recast/infra/net.py's SSRF-checked connections, redirects re-checked hop by hop, a size limit
enforced while streaming; upload:// only the organization's own finished uploads) rather than as extra
inputs of the workflow: they are tiny, so fetching them again for each output costs nothing
measurable, and the workflow's sequence of activities stays what it was (no new activities to patch
and replay-test). A bad file fails the outputs that need it with `invalid-captions`.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.fetch import _get_following_redirects
from recast.core import timeline
from recast.core.captions import CAPTION_MAX_BYTES, CaptionTrack
from recast.core.job import AudioInfo, InputMetadata
from recast.core.payloads import EncodeRequest
from recast.core.specs import OutputSpec
from recast.infra import net, uploads
from recast.infra.uploads import UPLOAD_SCHEME
from recast.media import captions, loudness, streaming
from recast.media.caption_tracks import CaptionPlan
from recast.media.captions import CaptionFile
from recast.media.loudness import LoudnessPlan
from recast.media.tools import MediaError

CAPTION_FETCH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Finishing:
    loudness: LoudnessPlan | None
    captions: CaptionPlan | None

    async def audio_report(self, audio: AudioInfo | None, measured: Path) -> AudioInfo | None:
        """`audio` with its loudness report, the finished output's audio (`measured`) measured anew."""
        if self.loudness is None or audio is None:
            return audio
        output = await loudness.measure(loudness.measure_args(loudness.file_audio(measured)))
        return audio.model_copy(update={"loudness": self.loudness.report(output)})


async def prepare(
    deps: Deps, req: EncodeRequest, src: Path, parts: list[tuple[Path, InputMetadata]], workdir: Path
) -> Finishing:
    """Fetch the captions this output carries and measure the audio it normalizes (or reports)."""
    burn = req.spec.burn_in
    if burn is not None and burn not in [c.language for c in req.captions]:
        # The API refuses this at submit; a retry's override or a child workflow may still ask it.
        named = ", ".join(c.language for c in req.captions) or "none given"
        raise MediaError("invalid-input", f"burn_in {burn!r} names no caption file; captions: {named}")
    files = await caption_files(deps, req, workdir)
    return Finishing(await _loudness_plan(req, src, parts), CaptionPlan.for_output(req.spec, files))


async def _loudness_plan(
    req: EncodeRequest, src: Path, parts: list[tuple[Path, InputMetadata]]
) -> LoudnessPlan | None:
    spec: OutputSpec = req.spec
    wanted = spec.audio.loudness
    if wanted is None or not spec.audio.enabled or not req.input_metadata.audio_codec:
        return None  # no audio to measure: the output fails or is made without it, as it would anyway
    audio_format = (spec.sample_rate, spec.audio.channels)
    source = loudness.source_audio(src, req.input_metadata, parts, req.clip, audio_format)
    measured = await loudness.measure(loudness.measure_args(source))
    loudness.check_measurable(wanted, measured)
    return LoudnessPlan(wanted, measured, spec.audio.channels, lossy=not spec.audio_codec.lossless)


async def package_audio_report(
    finish: Finishing, audio: AudioInfo | None, package: Path, spec: OutputSpec
) -> AudioInfo | None:
    """audio_report for an hls/dash package: its audio rendition's init and media segments joined
    into one file (a valid fragmented MP4) and measured."""
    if finish.loudness is None or audio is None:
        return audio
    reader = streaming.read_hls if spec.type.value == "hls" else streaming.read_dash
    _, variant = reader(package)
    if variant is None:
        return audio
    with tempfile.NamedTemporaryFile(dir=package.parent, suffix=".mp4") as joined:
        for name in ([variant.init] if variant.init else []) + [s for s, _ in variant.segments]:
            joined.write((package / name).read_bytes())
        joined.flush()
        return await finish.audio_report(audio, Path(joined.name))


# ---------------------------------------------------------------- captions --------------------------------


async def caption_files(deps: Deps, req: EncodeRequest, workdir: Path) -> list[CaptionFile]:
    """The job's caption files for this output (video outputs only), cut to its clip, as WebVTT."""
    if not req.captions or not req.spec.video:
        return []
    folder = workdir / "captions"
    folder.mkdir(parents=True, exist_ok=True)
    start = req.clip.start if req.clip else 0.0
    duration = timeline.output_duration_s(req.input_metadata.duration_ms, req.clip)
    files = []
    for i, track in enumerate(req.captions):
        what = f"captions[{i}] ({track.language})"
        data = await _fetch(deps, req.organization, track, what)
        cues = captions.cut(captions.parse(data, what), start, duration)
        path = folder / f"{i}.vtt"
        path.write_text(captions.webvtt(cues))
        files.append(CaptionFile(track, path, len(cues)))
    return files


async def _fetch(deps: Deps, organization: str, track: CaptionTrack, what: str) -> bytes:
    if track.url.lower().startswith(UPLOAD_SCHEME):
        try:
            manifest, size = await uploads.resolve(
                deps.storage, organization, track.url[len(UPLOAD_SCHEME) :]
            )
        except uploads.UploadError as exc:
            raise MediaError("input-unreachable", f"{what}: {exc.message}") from exc
        if size > CAPTION_MAX_BYTES:
            raise MediaError(
                captions.CODE, f"{what}: the file is larger than {CAPTION_MAX_BYTES // 1024} KiB"
            )
        return await deps.storage.read_bytes(manifest.key) or b""
    policy = net.policy_for(deps.settings.url_allowlist)
    try:
        async with (
            asyncio.timeout(CAPTION_FETCH_TIMEOUT_S),
            net.guarded_client(policy, timeout=30) as client,
        ):
            resp = await _get_following_redirects(client, track.url)
            try:
                if resp.status_code >= 400:
                    raise ApplicationError(
                        f"{what}: fetching the file returned HTTP {resp.status_code}",
                        type="input-unreachable",
                        non_retryable=resp.status_code < 500 and resp.status_code not in (408, 425, 429),
                    )
                data = bytearray()
                async for chunk in resp.aiter_bytes(65536):
                    data += chunk
                    if len(data) > CAPTION_MAX_BYTES:  # enforced while reading, whatever the header says
                        raise MediaError(
                            captions.CODE, f"{what}: the file is larger than {CAPTION_MAX_BYTES // 1024} KiB"
                        )
                return bytes(data)
            finally:
                await resp.aclose()
    except net.ForbiddenUrl as exc:
        raise MediaError("forbidden-url", f"{what}: the URL is refused: {exc}") from exc
    except httpx.HTTPError as exc:
        raise ApplicationError(f"{what}: could not fetch the file: {exc}", type="input-unreachable") from exc
    except TimeoutError as exc:
        raise MediaError(
            "too-slow", f"{what}: took longer than {CAPTION_FETCH_TIMEOUT_S:g} s to fetch"
        ) from exc
