"""The price table: what a job is estimated to cost after probing, and what it cost when it ended.

Prices are per output minute, by codec and output resolution (audio-only outputs: one flat rate),
scaled by the rendition's quality and by the job's priority. An hls/dash package costs the sum of its
rungs (its shared audio is free, as on video outputs). Pure functions of the models, so the workflow computes them deterministically.
"""

from __future__ import annotations

from recast.models import (
    InputMetadata,
    Output,
    OutputSpec,
    Priority,
    Quality,
    VideoCodec,
    VideoVariant,
    target_size,
)

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


def _spec_rate(spec: OutputSpec, meta: InputMetadata, priority: Priority) -> float:
    if not spec.video:
        return audio_rate(priority)
    if meta.width is None or meta.height is None:
        return 0.0  # a video output of an audio-only input fails with no-video-stream: nothing to pay
    return _rungs_rate(spec.video, meta.width, meta.height, priority)


def estimate(
    specs: list[OutputSpec], meta: InputMetadata, priority: Priority, duration_s: float | None = None
) -> float:
    """Cost of encoding every output: for `duration_s` (what the outputs last after trim and join,
    timeline.output_duration_s), by default the input's whole duration."""
    minutes = (meta.duration_ms / 1000 if duration_s is None else duration_s) / 60
    return round(sum(minutes * _spec_rate(s, meta, priority) for s in specs), 4)


def actual(outputs: list[Output], priority: Priority) -> float:
    """Cost of what was really encoded: the completed outputs, by their measured duration and size."""
    total = 0.0
    for out in outputs:
        if out.status.value == "completed" and out.duration_ms:
            if not out.video:
                total += out.duration_ms / 60_000 * audio_rate(priority)
                continue
            if len(out.video) > 1 and out.width and out.height:
                # A ladder reports its top rung's size; every rung is that or smaller, sized alike.
                per_minute = _rungs_rate(out.video, out.width, out.height, priority)
            else:
                v = out.video[0]
                per_minute = rate(v.codec, out.height, v.quality, priority)
            total += out.duration_ms / 60_000 * per_minute
    return round(total, 4)
