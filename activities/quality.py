"""An output's quality steps, around (or instead of) its encode: remux when nothing needs re-encoding
(recast/media/remux.py), decode every video output in full before it may be `completed`
(recast/media/verify.py), and measure its quality when `metrics` are asked (recast/media/measure.py).

Kept out of activities/encode.py and activities/stream.py, which only call in here, so that each
feature is one module and the output activities stay a list of steps (activities/finishing.py holds
the captions and loudness steps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

from activities.deps import Deps
from activities.ffmpeg_process import FfmpegFailed, FfmpegStalled, run_ffmpeg
from activities.finishing import Finishing
from activities.output_step import run_encode
from recast.core import timeline
from recast.core.job import InputMetadata
from recast.core.payloads import EncodeProgress, EncodeRequest
from recast.core.quality import RungQuality, remux_strategy
from recast.media import measure, probe, remux, renditions, streaming, verify
from recast.media.tools import MediaError

log = logging.getLogger("recast.finishing")
# The stall allowance of a package rendition's full decode (single files use the job's stall timeout).
PACKAGE_STALL_S = 60.0


async def try_remux(
    deps: Deps,
    req: EncodeRequest,
    src: Path,
    dst: Path,
    plan: renditions.EncodePlan,
    progress: EncodeProgress,
    finish: Finishing | None = None,
) -> str | None:
    """Copy the input's streams into `dst` when they already are what the output asks; the output's
    `strategy` then (`remux-mp4-h264`), or None: nothing written, encode it. A copy that ffmpeg refuses
    or that fails the output's check is thrown away and the output encoded instead. Anything that
    changes the picture or the sound (`background`, `burn_in`, caption tracks, loudness) is an encode."""
    if req.spec.type not in remux.REMUX_TYPES or req.clip is not None or len(req.parts) > 1:
        return None  # spares the input probe for what can never be a copy
    changed = finish is not None and (finish.captions is not None or finish.loudness is not None)
    if changed or req.spec.background is not None or req.spec.burn_in is not None or req.spec.audio.loudness:
        return None
    why = remux.why_encode(req.spec, req.input_metadata, await deps.probes.probe_raw(src))
    if why is not None:
        log.info("encoding, not remuxing: %s", why, extra={"output_id": req.output_id})
        return None
    expected_s = plan.duration_s or req.input_metadata.duration_ms / 1000
    try:
        await run_encode(remux.remux_args(req.spec, req.input_metadata, src, dst), expected_s, req, progress)
        renditions.check_output(await deps.probes.probe_raw(dst), req.spec, plan, req.input_metadata)
    except (FfmpegFailed, MediaError) as exc:
        log.warning("remux refused, encoding instead: %s", exc, extra={"output_id": req.output_id})
        _discard(dst)
        progress.stage = "encoding"
        return None
    return remux_strategy(req.spec.strategy)


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def _declared_s(stream: dict[str, Any] | None) -> float | None:
    """A stream's duration as its container states it (mp4: `duration`; matroska: the DURATION tag)."""
    if stream is None:
        return None
    value = stream.get("duration")
    if value is None:
        tag = str((stream.get("tags") or {}).get("DURATION", ""))
        hours, _, rest = tag.partition(":")
        minutes, _, secs = rest.partition(":")
        try:
            return int(hours) * 3600 + int(minutes) * 60 + float(secs)
        except ValueError:
            return None
    try:
        return float(value)
    except ValueError:
        return None


async def checked(deps: Deps, dst: Path, req: EncodeRequest, plan: renditions.EncodePlan) -> dict[str, Any]:
    """The probe check (renditions.check_output) and, for a video output, the full decode (verify_file),
    run side by side: the decode starts with the probe, so verifying adds only what it takes beyond
    the probe. Returns the probe."""
    decoding = None
    if req.spec.video:
        timeout = decode_timeout_s(req, plan.duration_s or req.input_metadata.duration_ms / 1000)
        decoding = asyncio.ensure_future(verify.full_decode(dst, timeout_s=timeout))
    try:
        data = await deps.probes.probe_raw(dst)
        renditions.check_output(data, req.spec, plan, req.input_metadata)
        if decoding is not None:
            verify_file(await _decoded(decoding), data, plan, req.input_metadata)
    finally:
        if decoding is not None and not decoding.done():
            decoding.cancel()  # the probe check failed: its ffmpeg is killed (full_decode's cancel)
            with contextlib.suppress(asyncio.CancelledError):
                await decoding
    return data


def decode_timeout_s(req: EncodeRequest, duration_s: float) -> float:
    """How long a full decode may take before it counts as stalled: the stall timeout, plus four times
    the output's duration (a decode runs many times faster than real time; a 4K HEVC one on two cores
    still about real time)."""
    return req.stall_timeout_s + 4 * duration_s


async def _decoded(decoding: Awaitable[verify.DecodeReport]) -> verify.DecodeReport:
    try:
        return await decoding
    except TimeoutError as exc:
        # Retried like a stalled encode: a decode that hangs says more about the worker than the file.
        raise FfmpegStalled("the full decode of the output did not finish in time") from exc


def counted_rate(
    plan: renditions.EncodePlan, video: dict[str, Any], meta: InputMetadata, data: dict[str, Any]
) -> float | None:
    """The frame rate a single file's decoded frames are counted against, or None where its timing may
    rightly be variable. An asked `framerate` is exact (the fps filter); mp4/mov index every frame, so
    the rate they declare is frames ÷ duration (and ffmpeg writes them constant-rate); matroska/webm
    keep a variable-rate input's timing and declare only a guess, trusted when it is the input's own
    average rate (a constant-rate input)."""
    if plan.framerate:
        return plan.framerate
    declared = probe.frame_ratio(video.get("avg_frame_rate")) or probe.frame_ratio(video.get("r_frame_rate"))
    if "mp4" in str((data.get("format") or {}).get("format_name", "")).split(","):
        return declared
    guess = probe.frame_ratio(video.get("r_frame_rate"))
    if guess and meta.framerate and abs(guess - meta.framerate) <= guess * 0.005:
        return guess
    return None


def verify_file(
    report: verify.DecodeReport, data: dict[str, Any], plan: renditions.EncodePlan, meta: InputMetadata
) -> None:
    """Hold a single-file video output's full decode (`report`; `data`: its probe) to the plan: no
    decode error; its frames the video's duration × frame rate (the asked rate, else the one it
    declares); it decodes to the planned duration; its audio, if it has any, decodes to the end."""
    video = probe.first_stream(data, "video")
    assert video is not None  # the probe check has passed on a video output
    audio = probe.first_stream(data, "audio")
    verify.check_decode(
        report,
        duration_s=plan.duration_s if plan.duration_s is not None else meta.duration_ms / 1000,
        framerate=counted_rate(plan, video, meta, data),
        video_duration_s=_declared_s(video),
        audio_duration_s=(_declared_s(audio) or probe.duration_s(data)) if audio is not None else None,
    )
    log.info("output decoded in full", extra={"seconds": report.seconds, "frames": report.video_frames})


async def measure_file(
    req: EncodeRequest,
    dst: Path,
    plan: renditions.EncodePlan,
    src: Path,
    parts: Sequence[tuple[Path, InputMetadata]],
    workdir: Path,
) -> list[RungQuality]:
    """With `metrics`: the output's quality against its source (one ffmpeg process)."""
    if not req.spec.metrics or not req.spec.video:
        return []
    fit = req.spec.video[0].fit
    mplan = measure.file_plan(
        dst, plan, fit, req.input_metadata, src, req.spec.metrics, workdir, parts=parts, clip=req.clip
    )
    return await _run_measure(mplan, req)


async def _run_measure(mplan: measure.MeasurePlan, req: EncodeRequest) -> list[RungQuality]:
    try:
        # Progress is not shown (the output is at 100 %, verifying); run_ffmpeg still kills a stalled run.
        await run_ffmpeg(mplan.args, mplan.duration_s, req.stall_timeout_s, lambda _: None)
        return measure.results(mplan)
    except (FfmpegFailed, ValueError, OSError) as exc:
        raise MediaError("metrics-failed", f"the quality metrics could not be measured: {exc}") from exc


def join_rendition(folder: Path, variant: streaming.Variant, dst: Path) -> Path:
    """A rung (or the audio rendition) of a package as one file: its init segment, then every media
    segment in order, which is the fragmented MP4 a player reads. Read through the manifest, never
    outside the package folder."""
    with dst.open("wb") as fh:
        for name in ([variant.init] if variant.init else []) + [s for s, _ in variant.segments]:
            fh.write(streaming._inside(folder, name).read_bytes())
    return dst


async def verify_package(
    folder: Path,
    plan: streaming.LadderPlan,
    meta: InputMetadata,
    workdir: Path,
    parts: Sequence[tuple[Path, InputMetadata]] = (),
) -> list[tuple[streaming.Rung, Path]]:
    """Decode every rung and the audio rendition of an hls/dash package in full, each held to the plan
    like a single file (its duration from its playlist / MPD). Returns each rung with its joined file,
    which measuring reuses; the caller's working folder removes them."""
    # A join is converted to one frame rate before the split (streaming.ladder_plan).
    joined_fps = timeline.join_framerate([m for _, m in parts]) if len(parts) > 1 else None
    timeout = PACKAGE_STALL_S + 4 * plan.duration_s  # as decode_timeout_s, per rendition
    rungs, audio = (streaming.read_hls if plan.entry == streaming.HLS_ENTRY else streaming.read_dash)(folder)
    joined: list[tuple[streaming.Rung, Path]] = []
    for got, rung in zip(rungs, plan.rungs, strict=True):
        path = join_rendition(folder, got, workdir / f"rung-{rung.index}.mp4")
        # The hls/dash muxers write constant-rate video: a lowered or joined rate as asked, else the
        # input's nominal rate (r_frame_rate, not its average: a variable-rate input is made constant).
        data, report = await asyncio.gather(
            probe.probe_raw(path), _decoded(verify.full_decode(path, timeout_s=timeout))
        )
        nominal = probe.frame_ratio((probe.first_stream(data, "video") or {}).get("r_frame_rate"))
        verify.check_decode(
            report,
            duration_s=plan.duration_s,
            framerate=rung.framerate or joined_fps or nominal,
            video_duration_s=sum(d for _, d in got.segments),
            label=f"rung {rung.index} ({rung.name})",
        )
        joined.append((rung, path))
    if audio is not None:
        path = join_rendition(folder, audio, workdir / "audio.mp4")
        report = await _decoded(verify.full_decode(path, timeout_s=timeout))
        if report.decode_errors or report.audio_frames == 0:
            shown = "; ".join(report.errors) or "no audio frame decoded"
            raise MediaError("verification-failed", f"the audio rendition: {shown}")
        _discard(path)
    return joined


async def measure_package(
    req: EncodeRequest,
    joined: list[tuple[streaming.Rung, Path]],
    plan: streaming.LadderPlan,
    src: Path,
    parts: Sequence[tuple[Path, InputMetadata]],
    workdir: Path,
) -> list[RungQuality]:
    """With `metrics`: every rung's quality against the source, in one ffmpeg process."""
    if not req.spec.metrics:
        return []
    mplan = measure.ladder_measure_plan(
        joined, plan, req.input_metadata, src, req.spec.metrics, workdir, parts=parts, clip=req.clip
    )
    return await _run_measure(mplan, req)
