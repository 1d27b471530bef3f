"""The price table: what a job is estimated to cost after probing, and what it cost when it ended.

Prices are per output minute, by codec and output resolution (audio-only outputs: one flat rate),
scaled by the rendition's quality and by the job's priority. An hls/dash package costs the sum of its
rungs (its shared audio is free, as on video outputs). Finishing adds a rate per output minute:
loudness (measured or normalized: an extra decode of the audio) and burned-in captions (a render per
frame); caption tracks are free. Background removal adds a flat rate per output minute (scaled by
priority), and a stacked-alpha output is priced at the height it encodes (twice the picture's). Images
and thumbnails are a small flat price per picture (a sprite sheet counts as one), scaled by priority
only; an animated preview is priced per second of preview, a waveform like an audio-only output; a
watermark costs nothing extra. Pure functions of the models, so the workflow computes them deterministically.
"""

from __future__ import annotations

from recast.core.formats import THUMBNAILS_MAX_IMAGES, InputKind, OutputType, Quality, VideoCodec
from recast.core.job import InputMetadata, Output
from recast.core.previews import AnimationSpec
from recast.core.quality import is_remux
from recast.core.requests import Priority
from recast.core.specs import OutputSpec, VideoVariant, target_size

CURRENCY = "USD"

# USD per output minute, by codec and output height class.
PER_MINUTE: dict[VideoCodec, dict[int, float]] = {
    VideoCodec.h264: {480: 0.005, 720: 0.010, 1080: 0.015},
    VideoCodec.h265: {480: 0.010, 720: 0.020, 1080: 0.030, 2160: 0.060},
    VideoCodec.vp9: {480: 0.010, 720: 0.020, 1080: 0.030},
    VideoCodec.av1: {480: 0.015, 720: 0.030, 1080: 0.045, 2160: 0.090},
}
# Above 1080 lines: the codec's 2160 row, or twice its 1080 row.
for _row in PER_MINUTE.values():
    _row.setdefault(2160, _row[1080] * 2)
AUDIO_PER_MINUTE = 0.002  # audio-only outputs, any codec
IMAGE_PRICE = 0.001  # one image output (jpg, png, webp, avif), any size
BACKGROUND_PER_MINUTE = 0.01  # keying a background out, on top of the encode's own rate
THUMBNAIL_PRICE = 0.0002  # each picture of a thumbnails output, the sprite sheet included
# `metrics` (ssim, psnr: one pass for both) per output minute of each measured video variant or rung:
# the pass decodes the source and the output again: ~0.55× the CPU of an H.264 720p encode (docs/benchmarks.md).
METRICS_PER_MINUTE = 0.005
# A remuxed output (its input's streams copied, strategy `remux-…`) instead of its encode rate.
REMUX_PER_MINUTE = 0.001
LOUDNESS_PER_MINUTE = 0.001  # audio.loudness, normalized or measure_only, any output with audio
BURN_IN_PER_MINUTE = 0.002  # burn_in: captions rendered into the picture (of every rung of a ladder)
ANIMATION_PER_SECOND = 0.001  # an animated preview (gif, animated webp), per second of preview
# A waveform decodes the whole audio: priced as an audio-only output (AUDIO_PER_MINUTE).
QUALITY_FACTOR: dict[Quality, float] = {Quality.economy: 0.8, Quality.standard: 1.0, Quality.premium: 1.5}
PRIORITY_MULTIPLIER: dict[Priority, float] = {
    Priority.economy: 0.75,
    Priority.standard: 1.0,
    Priority.premium: 2.0,
}


def height_class(height: int | None) -> int:
    """The price row of an output this tall: 480 up to 480 lines, 720 up to 720, 1080 up to 1080,
    2160 above."""
    if height is None or height <= 480:
        return 480
    if height <= 720:
        return 720
    return 1080 if height <= 1080 else 2160


def rate(codec: VideoCodec, height: int | None, quality: Quality, priority: Priority) -> float:
    """USD per output minute."""
    return PER_MINUTE[codec][height_class(height)] * QUALITY_FACTOR[quality] * PRIORITY_MULTIPLIER[priority]


def audio_rate(priority: Priority) -> float:
    """USD per output minute of an audio-only output."""
    return AUDIO_PER_MINUTE * PRIORITY_MULTIPLIER[priority]


def _rungs_rate(variants: list[VideoVariant], width: int, height: int, priority: Priority) -> float:
    """Every variant at the size it gets from a `width`×`height` source (never upscaled), summed: one
    rendition for a single-file output, the ladder's rungs for hls/dash."""
    return sum(rate(v.codec, target_size(v, width, height)[1], v.quality, priority) for v in variants)


def finishing_rate(loudness: bool, burn_in: bool, priority: Priority) -> float:
    """USD per output minute for an output's finishing: loudness and burned-in captions."""
    rate = (LOUDNESS_PER_MINUTE if loudness else 0.0) + (BURN_IN_PER_MINUTE if burn_in else 0.0)
    return rate * PRIORITY_MULTIPLIER[priority]


def _spec_rate(spec: OutputSpec, meta: InputMetadata, priority: Priority) -> float:
    loudness = spec.audio.loudness is not None and meta.audio_codec is not None
    if not spec.video:
        return audio_rate(priority) + finishing_rate(loudness, False, priority)
    if meta.width is None or meta.height is None:
        return 0.0  # a video output of an audio-only input fails with no-video-stream: nothing to pay
    extra = finishing_rate(loudness, spec.burn_in is not None, priority)
    if spec.background is not None:
        v = spec.video[0]
        height = target_size(v, meta.width, meta.height)[1]
        height *= 2 if spec.background.layout.value == "stacked" else 1
        return rate(v.codec, height, v.quality, priority) + background_rate(priority) + extra
    return _rungs_rate(spec.video, meta.width, meta.height, priority) + extra


def background_rate(priority: Priority) -> float:
    """USD per output minute for keying out a background, on top of the encode's rate."""
    return BACKGROUND_PER_MINUTE * PRIORITY_MULTIPLIER[priority]


def _pictures_price(spec: OutputSpec, meta: InputMetadata, duration_s: float) -> float:
    """An image or thumbnails output: the flat price of the pictures it will make (0 when it cannot be made)."""
    if meta.height is None:
        return 0.0  # no picture in the input: the output fails with no-video-stream
    if spec.type.is_image:
        return IMAGE_PRICE
    if meta.kind is InputKind.image or spec.thumbnails is None:
        return 0.0  # thumbnails of a still image fail with image-input
    count = spec.thumbnails.image_count(duration_s)
    if count > THUMBNAILS_MAX_IMAGES:
        return 0.0  # too short an interval for this input: fails with too-many-thumbnails
    return (count + (1 if spec.thumbnails.sprite else 0)) * THUMBNAIL_PRICE


def _preview_price(spec: OutputSpec, meta: InputMetadata, duration_s: float) -> float | None:
    """An animated preview or a waveform: its price before priority (0 when it cannot be made); None
    for any other output."""
    if spec.type is OutputType.waveform:
        return 0.0 if not meta.audio_codec else duration_s / 60 * AUDIO_PER_MINUTE
    if spec.animation is None and spec.type is not OutputType.gif:
        return None
    if meta.height is None or meta.kind is InputKind.image:
        return 0.0  # fails with no-video-stream / image-input
    anim = spec.animation or AnimationSpec()
    return max(0.0, min(anim.duration, duration_s - anim.start)) * ANIMATION_PER_SECOND


def estimate(
    specs: list[OutputSpec], meta: InputMetadata, priority: Priority, duration_s: float | None = None
) -> float:
    """Cost of encoding every output: for `duration_s` (what the outputs last after trim and join,
    timeline.output_duration_s), by default the input's whole duration. Images and thumbnails: per picture."""
    seconds = meta.duration_ms / 1000 if duration_s is None else duration_s
    total = 0.0
    for spec in specs:
        if (preview := _preview_price(spec, meta, seconds)) is not None:
            total += preview * PRIORITY_MULTIPLIER[priority]
        elif spec.type.is_visual:
            total += _pictures_price(spec, meta, seconds) * PRIORITY_MULTIPLIER[priority]
        elif meta.kind is not InputKind.image:  # a still image makes no video or audio output
            total += seconds / 60 * _spec_rate(spec, meta, priority)
            if spec.metrics and meta.height is not None:
                total += seconds / 60 * len(spec.video) * METRICS_PER_MINUTE * PRIORITY_MULTIPLIER[priority]
    return round(total, 4)


def actual(outputs: list[Output], priority: Priority) -> float:
    """Cost of what was really encoded: the completed outputs, by their measured duration and size."""
    total = 0.0
    for out in outputs:
        if out.status.value != "completed":
            continue
        if out.type is OutputType.gif or (out.type is OutputType.webp and out.duration_ms):
            # An animated preview lasts; a still webp reports no duration.
            total += (out.duration_ms or 0) / 1000 * ANIMATION_PER_SECOND * PRIORITY_MULTIPLIER[priority]
        elif out.type is OutputType.waveform:
            total += (out.duration_ms or 0) / 60_000 * audio_rate(priority)
        elif out.type.is_image:
            total += IMAGE_PRICE * PRIORITY_MULTIPLIER[priority]
        elif out.type is OutputType.thumbnails:
            pictures = sum(1 for f in out.files if f.content_type.startswith("image/"))
            total += pictures * THUMBNAIL_PRICE * PRIORITY_MULTIPLIER[priority]
        elif out.duration_ms:
            loudness = out.audio is not None and out.audio.loudness is not None
            burned = out.captions is not None and out.captions.burned_in is not None
            total += out.duration_ms / 60_000 * finishing_rate(loudness, burned, priority)
            if not out.video:
                total += out.duration_ms / 60_000 * audio_rate(priority)
                continue
            # Measured variants (`metrics`), then the output itself: a copy, or an encode.
            total += (
                out.duration_ms
                / 60_000
                * len(out.quality)
                * METRICS_PER_MINUTE
                * PRIORITY_MULTIPLIER[priority]
            )
            if is_remux(out.strategy):
                total += out.duration_ms / 60_000 * REMUX_PER_MINUTE * PRIORITY_MULTIPLIER[priority]
                continue
            if len(out.video) > 1 and out.width and out.height:
                # A ladder reports its top rung's size; every rung is that or smaller, sized alike.
                per_minute = _rungs_rate(out.video, out.width, out.height, priority)
            else:
                v = out.video[0]
                per_minute = rate(v.codec, out.height, v.quality, priority)
                if out.background_color is not None:  # out.height is the encoded (stacked: double) one
                    per_minute += background_rate(priority)
            total += out.duration_ms / 60_000 * per_minute
    return round(total, 4)


def total(costs: list[float | None]) -> float | None:
    """The sum of several jobs' costs (a batch, a retried job's runs); None when none is known yet."""
    known = [c for c in costs if c is not None]
    return round(sum(known), 4) if known else None
