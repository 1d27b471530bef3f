"""The price table: what a job is estimated to cost after probing, and what it cost when it ended.

Prices are per output minute, by codec and output resolution, scaled by the rendition's quality and
by the job's priority. Pure functions of the models, so the workflow computes them deterministically.
"""

from __future__ import annotations

from recast.models import InputMetadata, Output, OutputSpec, Priority, Quality, VideoCodec

CURRENCY = "USD"

# USD per output minute, by codec and output height class.
PER_MINUTE: dict[VideoCodec, dict[int, float]] = {
    VideoCodec.h264: {480: 0.005, 720: 0.010, 1080: 0.015},
    VideoCodec.vp9: {480: 0.010, 720: 0.020, 1080: 0.030},
}
QUALITY_FACTOR: dict[Quality, float] = {Quality.economy: 0.8, Quality.standard: 1.0, Quality.premium: 1.5}
PRIORITY_MULTIPLIER: dict[Priority, float] = {
    Priority.economy: 0.75,
    Priority.standard: 1.0,
    Priority.premium: 2.0,
}


def height_class(height: int | None) -> int:
    """The price row of an output this tall: 480 up to 480 lines, 720 up to 720, 1080 above."""
    if height is None or height <= 480:
        return 480
    return 720 if height <= 720 else 1080


def rate(codec: VideoCodec, height: int | None, quality: Quality, priority: Priority) -> float:
    """USD per output minute."""
    return PER_MINUTE[codec][height_class(height)] * QUALITY_FACTOR[quality] * PRIORITY_MULTIPLIER[priority]


def _planned_height(spec: OutputSpec, meta: InputMetadata) -> int | None:
    wanted = spec.video[0].resolution
    if wanted is None or meta.height is None:
        return meta.height
    return min(wanted.height, meta.height)  # never upscaled


def estimate(specs: list[OutputSpec], meta: InputMetadata, priority: Priority) -> float:
    """Cost of encoding every output for the input's whole duration."""
    minutes = meta.duration_ms / 60_000
    total = sum(
        minutes * rate(s.video[0].codec, _planned_height(s, meta), s.video[0].quality, priority)
        for s in specs
    )
    return round(total, 4)


def actual(outputs: list[Output], priority: Priority) -> float:
    """Cost of what was really encoded: the completed outputs, by their measured duration and size."""
    total = 0.0
    for out in outputs:
        if out.status.value == "completed" and out.duration_ms:
            v = out.video[0]
            total += out.duration_ms / 60_000 * rate(v.codec, out.height, v.quality, priority)
    return round(total, 4)
