"""Still images and thumbnail sets: ffmpeg commands (built with ffmpeg-python), sizes, the WebVTT index of
a sprite sheet, and the checks a result must pass. Pure functions; the activities run them.

Every format's `quality` (1–100) maps onto its encoder's own scale in FORMATS, the one table of it
(README: Images). A thumbnail set is made by ONE ffmpeg process in one of two ways (choose_strategy):
`decode` reads the input once up to the last picture and a `select` filter picks the frames; `seek`,
for a few far-apart pictures, opens the input once per picture seeked to its time and joins the single
frames with `concat`. Either way `scale` sizes the frames and `split` feeds both the numbered pictures
and the `tile` filter that makes the sprite; both give the very same pictures. bench/thumbnails.py
measures them (README: Benchmarks).
"""

from __future__ import annotations

import functools
import math
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from recast.media import (
    FFMPEG,
    GLOBAL_ARGS,
    INPUT_OPTIONS,
    MediaError,
    ffprobe_json,
    first_stream,
    source_streams,
)
from recast.models import (
    THUMBNAILS_MAX_IMAGES,
    WEBP_MAX_SIDE,
    Clip,
    ImageSpec,
    InputKind,
    InputMetadata,
    OutputSpec,
    ThumbnailsSpec,
)
from recast.timeline import join_framerate, output_duration_s

Part = tuple[Path, InputMetadata]  # one input of a join: its local file and metadata


@dataclass(frozen=True)
class ImageFormat:
    """How one image format is written and recognised."""

    encoder: str
    muxer: str
    probed_codec: str  # ffprobe's codec_name of the result
    probed_formats: frozenset[str]  # one of these is in ffprobe's format_name
    default_quality: int | None  # None: lossless, no quality
    options: Callable[[int | None], dict[str, Any]]
    pix_fmt: str | None = None  # None: the encoder's best match for the input (keeps PNG alpha)


def _jpeg_q(quality: int | None) -> dict[str, Any]:
    assert quality is not None
    # mjpeg's qscale: 2 (best) … 31 (worst).
    return {"q:v": 2 + round((100 - quality) * 29 / 99)}


def _avif_crf(quality: int | None) -> dict[str, Any]:
    assert quality is not None
    # libaom's CRF: 0 (best) … 63 (worst); a still picture in all-intra mode, cpu-used 6 (~0.4 s a frame).
    return {"crf": round((100 - quality) * 63 / 99), "b:v": 0, "still-picture": 1, "cpu-used": 6}


FORMATS: dict[str, ImageFormat] = {
    "jpg": ImageFormat(
        "mjpeg", "image2", "mjpeg", frozenset({"image2", "jpeg_pipe"}), 85, _jpeg_q, "yuvj420p"
    ),
    "png": ImageFormat(
        "png", "image2", "png", frozenset({"image2", "png_pipe"}), None, lambda _: {"pred": "mixed"}
    ),
    "webp": ImageFormat(
        "libwebp",
        "image2",
        "webp",
        frozenset({"image2", "webp_pipe"}),
        80,
        lambda q: {"quality": q, "compression_level": 4},
    ),
    "avif": ImageFormat("libaom-av1", "avif", "av1", frozenset({"mov", "mp4"}), 60, _avif_crf, "yuv420p"),
}


@functools.cache
def avif_available() -> bool:
    """Whether this machine's ffmpeg can write AVIF (an `avif` muxer and the libaom-av1 encoder)."""
    try:
        muxers = subprocess.run([FFMPEG, "-hide_banner", "-muxers"], capture_output=True, timeout=10).stdout
        encoders = subprocess.run(
            [FFMPEG, "-hide_banner", "-encoders"], capture_output=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return can_write_avif(muxers.decode(errors="replace"), encoders.decode(errors="replace"))


def can_write_avif(muxers: str, encoders: str) -> bool:
    """From `ffmpeg -muxers` and `ffmpeg -encoders` listings."""
    has_muxer = any(line.split()[1:2] == ["avif"] for line in muxers.splitlines() if line.strip())
    has_encoder = any(line.split()[1:2] == ["libaom-av1"] for line in encoders.splitlines() if line.strip())
    return has_muxer and has_encoder


def image_formats(avif: bool) -> list[str]:
    return [f for f in FORMATS if avif or f != "avif"]


# ---------------------------------------------------------------- sizes and times --------------------------


def fit_size(width: int, height: int, box_w: int | None, box_h: int | None) -> tuple[int, int]:
    """Fit inside the box (either side may be open), aspect kept, never upscaled; at least 1 pixel."""
    scale = 1.0
    if box_w is not None:
        scale = min(scale, box_w / width)
    if box_h is not None:
        scale = min(scale, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _frame_s(meta: InputMetadata) -> float:
    return 1 / (meta.framerate or 25)


def last_frame_s(meta: InputMetadata) -> float:
    """The latest time that surely still has a frame at or after it (a seek past it finds nothing)."""
    return max(0.0, meta.duration_ms / 1000 - 1.5 * _frame_s(meta))


def poster_time(meta: InputMetadata, asked: float | None) -> float:
    """The second a poster is taken from: as asked (clamped to the last frame), else the middle; a GIF's
    first frame, which is the picture a GIF is known by."""
    if asked is None:
        asked = 0.0 if meta.codec == "gif" else meta.duration_ms / 2000
    return min(asked, last_frame_s(meta))


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
    if len({round(t / _frame_s(meta)) for t in times}) != len(times):
        raise MediaError(
            "invalid-thumbnails",
            "two thumbnail times fall on the same frame of this input (times past its end all give the "
            "last frame): space them further apart",
        )
    return Timeline(times=times, starts=starts)


# ---------------------------------------------------------------- commands ---------------------------------


@dataclass(frozen=True)
class ImagePlan:
    args: list[str]
    width: int
    height: int
    format: str
    decode_s: float  # how much of the input ffmpeg reads: its progress is measured against this


def _needs_picture(kind: str, meta: InputMetadata) -> None:
    if meta.kind is InputKind.audio or not (meta.width and meta.height):
        raise MediaError("no-video-stream", f"the input has no video stream; {kind} needs one")


def _quality(fmt: ImageFormat, quality: int | None) -> dict[str, Any]:
    opts = fmt.options(quality if quality is not None else fmt.default_quality)
    return {"c:v": fmt.encoder, **opts, **({"pix_fmt": fmt.pix_fmt} if fmt.pix_fmt else {})}


def output_meta(meta: InputMetadata, clip: Clip | None) -> InputMetadata:
    """The input as the outputs see it: lasting what the clip keeps (of the joined inputs)."""
    seconds = output_duration_s(meta.duration_ms, clip)
    return meta.model_copy(update={"duration_ms": round(seconds * 1000)})


def _window(src: Path, meta: InputMetadata, parts: Sequence[Part], start: float, length: float | None) -> Any:
    """The pictures of the job's timeline (a join's inputs end to end) from `start` for `length` seconds
    (None: to the end), at the input's (the join's) size: media.source_streams, which makes every other
    output, so a clip or a join means the same here."""
    window = Clip(start=start, end=None if length is None else start + length)
    framerate = join_framerate([m for _, m in parts]) if len(parts) > 1 else None
    assert meta.width and meta.height
    video, _ = source_streams(src, meta, parts, window, (meta.width, meta.height), framerate, None)
    return video


def image_plan(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    dst: Path,
    parts: Sequence[Part] = (),
    clip: Clip | None = None,
) -> ImagePlan:
    """One still image: the image input optimized, or a poster frame of a video input (its time counted
    from the clip's start, on a join's timeline)."""
    _needs_picture(f"a {spec.type.value} output", meta)
    assert meta.width and meta.height
    image = spec.image or ImageSpec()
    fmt = FORMATS[spec.type.value]
    width, height = fit_size(meta.width, meta.height, image.width, image.height)
    decode_s = 0.0
    if meta.kind is InputKind.image:
        picture = ffmpeg.input(f"file:{src}", **INPUT_OPTIONS)["v:0"]
    else:
        decode_s = poster_time(output_meta(meta, clip), image.time)
        start = (clip.start if clip else 0.0) + decode_s
        if clip is None and len(parts) <= 1:
            # Input seeking: ffmpeg jumps to the keyframe before and decodes only up to the wanted frame.
            picture = ffmpeg.input(f"file:{src}", ss=f"{start:.3f}", **INPUT_OPTIONS)["v:0"]
        else:
            picture = _window(src, meta, parts, start, None)
    if (width, height) != (meta.width, meta.height):
        picture = picture.filter("scale", width, height, flags="lanczos")
    out_opts: dict[str, Any] = {"frames:v": 1, "threads": 0, **_quality(fmt, image.quality)}
    if fmt.muxer == "image2":
        out_opts["update"] = 1  # one file, not a numbered sequence
    out = ffmpeg.output(picture, f"file:{dst}", format=fmt.muxer, **out_opts)
    return ImagePlan([FFMPEG, *GLOBAL_ARGS, *out.get_args()], width, height, spec.type.value, decode_s)


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
    _needs_picture("a thumbnails output", meta)
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
            source = _window(src, meta, parts, base, decode_s)
        frames = source.filter("select", _select(timeline.times)).filter("scale", width, height)
    quality = _quality(fmt, thumbs.quality)
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


def check_image(data: dict[str, Any], fmt_name: str, width: int, height: int) -> None:
    """Refuse a result that is not the asked image: format, codec, dimensions."""
    fmt = FORMATS[fmt_name]
    picture = first_stream(data, "video")
    if picture is None:
        raise MediaError("output-mismatch", f"the {fmt_name} file holds no picture")
    if picture.get("codec_name") != fmt.probed_codec:
        raise MediaError(
            "output-mismatch", f"expected a {fmt.probed_codec} picture, got {picture.get('codec_name')}"
        )
    if (picture.get("width"), picture.get("height")) != (width, height):
        raise MediaError(
            "output-mismatch",
            f"expected {width}x{height}, got {picture.get('width')}x{picture.get('height')}",
        )
    info = data.get("format") or {}
    if not set((info.get("format_name") or "").split(",")) & fmt.probed_formats:
        raise MediaError("output-mismatch", f"expected a {fmt_name} file, got {info.get('format_name')}")
    if fmt_name == "avif" and (info.get("tags") or {}).get("major_brand") != "avif":
        raise MediaError("output-mismatch", "the AVIF file does not carry the avif brand")
