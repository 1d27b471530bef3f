"""Thumbnail sets: picture times, the ONE ffmpeg process that makes every picture and the sprite, the
WebVTT index of a sprite sheet, and the check of the written set. Pure functions; the activities run them.

A set is made in one of two ways (choose_strategy): `decode` reads the input once up to the last
picture and a `select` filter picks the frames; `seek`, for a few far-apart pictures, opens the input
once per picture seeked to its time and joins the single frames with `concat`. Either way `scale`
sizes the frames and `split` feeds both the numbered pictures and the `tile` filter that makes the
sprite; both give the very same pictures. bench/thumbnails.py measures them (docs: benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import THUMBNAILS_MAX_IMAGES, WEBP_MAX_SIDE, InputKind
from recast.core.job import InputMetadata
from recast.core.requests import Clip
from recast.core.specs import OutputSpec, ThumbnailsSpec
from recast.core.timeline import output_duration_s
from recast.media.images import (
    FORMATS,
    Part,
    encoder_quality,
    fit_size,
    frame_s,
    input_window,
    last_frame_s,
    needs_picture,
    output_meta,
)
from recast.media.probe import ffprobe_json, first_stream
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS, MediaError


@dataclass(frozen=True)
class Timeline:
    times: list[float]  # where each image is taken
    starts: list[float]  # where each image's WebVTT cue starts (each ends where the next starts)


def thumbnail_timeline(spec: ThumbnailsSpec, meta: InputMetadata) -> Timeline:
    duration = meta.duration_ms / 1000
    if spec.count is not None:
        n = spec.count
        starts = [duration * i / n for i in range(n)]
        times = [duration * (i + 0.5) / n for i in range(n)]
    elif spec.interval is not None:
        n = spec.image_count(duration)
        if n > THUMBNAILS_MAX_IMAGES:
            raise MediaError(
                "too-many-thumbnails",
                f"one thumbnail every {spec.interval:g} s of a {duration:.1f} s input makes {n} images; "
                f"the limit is {THUMBNAILS_MAX_IMAGES}: use a longer interval or count",
            )
        starts = times = [spec.interval * i for i in range(n)]
    else:
        assert spec.times is not None
        times = list(spec.times)
        starts = [0.0, *times[1:]]
    last = last_frame_s(meta)
    times = [min(t, last) for t in times]
    if len({round(t / frame_s(meta)) for t in times}) != len(times):
        raise MediaError(
            "invalid-thumbnails",
            "two thumbnail times fall on the same frame of this input (times past its end all give the "
            "last frame): space them further apart",
        )
    return Timeline(times=times, starts=starts)


SPRITE_NAME = "sprite"
INDEX_NAME = "thumbnails.vtt"
IMAGE_PATTERN = "thumb_%04d"


@dataclass(frozen=True)
class ThumbnailsPlan:
    args: list[str]
    width: int
    height: int
    format: str
    timeline: Timeline
    columns: int = 0  # 0: no sprite
    rows: int = 0
    decode_s: float = 0.0
    images: list[str] = field(default_factory=list)  # file names, in time order
    strategy: str = "decode"

    @property
    def sprite(self) -> str | None:
        return f"{SPRITE_NAME}.{self.format}" if self.columns else None


def _select(times: list[float]) -> str:
    # The first frame at or after each time: t has reached it and the frame before had not
    # (prev_t is NaN on the first frame, so not(gte(…)) holds there).
    return "+".join(f"gte(t,{t:.4f})*not(gte(prev_t,{t:.4f}))" for t in times)


# Seeking once per picture beats one decode when pictures are sparse (each seek decodes from the keyframe
# before its time, ~half a GOP: a few seconds of video), but every input costs memory while the process
# runs (~19 MiB each at 720p): only for a few, far-apart pictures. bench/thumbnails.py measures both.
SEEK_MAX_IMAGES = 10
SEEK_MIN_SPACING_S = 6.0


def choose_strategy(images: int, decode_s: float) -> str:
    """`decode`: one decode up to the last picture, `select` picks the frames; `seek`: a seek per picture."""
    if images <= SEEK_MAX_IMAGES and decode_s >= SEEK_MIN_SPACING_S * images:
        return "seek"
    return "decode"


def thumbnails_plan(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    folder: Path,
    strategy: str | None = None,
    parts: Sequence[Part] = (),
    clip: Clip | None = None,
) -> ThumbnailsPlan:
    """Every thumbnail (and the sprite) of one spec in ONE ffmpeg process; `strategy` as choose_strategy
    picks it when not given (a join is always decoded). Times count from the clip's start, on a join's
    timeline."""
    assert spec.thumbnails is not None
    thumbs = spec.thumbnails
    if meta.kind is InputKind.image:
        raise MediaError("image-input", "the input is a still image; thumbnails are taken from a video")
    needs_picture("a thumbnails output", meta)
    assert meta.width and meta.height
    timeline = thumbnail_timeline(thumbs, output_meta(meta, clip))
    base = clip.start if clip else 0.0
    joined = len(parts) > 1
    width, height = fit_size(meta.width, meta.height, thumbs.width, None)
    fmt = FORMATS[thumbs.format.value]
    n = len(timeline.times)
    # Read only as far as the last picture needs (a second of slack for frame timing).
    decode_s = min(output_duration_s(meta.duration_ms, clip), max(timeline.times) + 1.0)
    if strategy is None:
        strategy = "decode" if joined else choose_strategy(n, decode_s)
    if strategy == "seek":
        assert not joined, "a join is decoded, not seeked"
        # One input per picture, each seeked to its time (ffmpeg decodes from the keyframe before it);
        # concat pulls them one after the other, so only one decoder is busy at a time.
        pictures = [
            ffmpeg.input(f"file:{src}", ss=f"{base + t:.3f}", threads=1, **INPUT_OPTIONS)["v:0"].filter(
                "trim", end_frame=1
            )
            for t in timeline.times
        ]
        # Each one-frame segment starts at 0: one second per picture keeps the timestamps rising.
        frames = (
            ffmpeg.concat(*pictures, n=n, v=1, a=0).filter("setpts", "N/TB").filter("scale", width, height)
        )
    else:
        if clip is None and not joined:
            source = ffmpeg.input(f"file:{src}", t=f"{decode_s:.3f}", **INPUT_OPTIONS)["v:0"]
        else:
            source = input_window(src, meta, parts, base, decode_s)
        frames = source.filter("select", _select(timeline.times)).filter("scale", width, height)
    quality = encoder_quality(fmt, thumbs.quality)
    images_at = f"file:{folder}/{IMAGE_PATTERN}.{thumbs.format.value}"
    image_opts = {"fps_mode": "passthrough", "frames:v": n, **quality}
    columns = rows = 0
    if thumbs.sprite:
        columns = min(thumbs.sprite.columns, n)
        rows = math.ceil(n / columns)
        if thumbs.format.value == "webp" and rows * height > WEBP_MAX_SIDE:
            raise MediaError(
                "sprite-too-large",
                f"a webp sprite of {rows} rows of {height} px is taller than {WEBP_MAX_SIDE} px: "
                "more columns, a smaller width or another format",
            )
        split = frames.split()
        images = ffmpeg.output(split[0], images_at, format="image2", **image_opts)
        sheet = split[1].filter("tile", f"{columns}x{rows}")
        sprite = ffmpeg.output(
            sheet,
            f"file:{folder}/{SPRITE_NAME}.{thumbs.format.value}",
            format="image2",
            update=1,
            **{"frames:v": 1, **quality},
        )
        node = ffmpeg.merge_outputs(images, sprite)
    else:
        node = ffmpeg.output(frames, images_at, format="image2", **image_opts)
    names = [f"{IMAGE_PATTERN % (i + 1)}.{thumbs.format.value}" for i in range(n)]
    return ThumbnailsPlan(
        [FFMPEG, *GLOBAL_ARGS, *node.get_args()],
        width,
        height,
        thumbs.format.value,
        timeline,
        columns,
        rows,
        decode_s,
        names,
        strategy,
    )


# ---------------------------------------------------------------- WebVTT index -----------------------------


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def sprite_vtt(plan: ThumbnailsPlan, duration_s: float) -> str:
    """The WebVTT index of a sprite: one cue per tile, `sprite.jpg#xywh=x,y,w,h`, covering 0 to the end."""
    assert plan.sprite is not None
    lines = ["WEBVTT", ""]
    starts = plan.timeline.starts
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else duration_s
        x, y = (i % plan.columns) * plan.width, (i // plan.columns) * plan.height
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{plan.sprite}#xywh={x},{y},{plan.width},{plan.height}",
            "",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------- verification ----------------------------


async def probe_sequence(folder: Path, pattern: str) -> dict[str, Any]:
    """ffprobe a numbered image sequence Recast itself wrote, decoding every image: one process gives the
    count (nb_read_frames), codec and size of all of them."""
    data, err = await ffprobe_json(
        "-protocol_whitelist",
        "file",
        "-f",
        "image2",
        "-count_frames",
        "-show_streams",
        f"file:{folder}/{pattern}",
    )
    if data is None:
        raise MediaError("output-mismatch", "the thumbnails cannot be read back: " + " ".join(err)[-300:])
    return data


def check_sequence(data: dict[str, Any], plan: ThumbnailsPlan) -> None:
    """Every thumbnail is there, decodes, and has the planned codec and size."""
    fmt = FORMATS[plan.format]
    picture = first_stream(data, "video") or {}
    got = str(picture.get("nb_read_frames", "0"))
    if not got.isdigit() or int(got) != len(plan.images):
        raise MediaError("output-mismatch", f"expected {len(plan.images)} thumbnails, got {got}")
    if picture.get("codec_name") != fmt.probed_codec:
        raise MediaError(
            "output-mismatch", f"expected {fmt.probed_codec} thumbnails, got {picture.get('codec_name')}"
        )
    if (picture.get("width"), picture.get("height")) != (plan.width, plan.height):
        raise MediaError(
            "output-mismatch",
            f"expected {plan.width}x{plan.height} thumbnails, got {picture.get('width')}x{picture.get('height')}",
        )
