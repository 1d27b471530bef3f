"""Still image outputs (jpg/png/webp/avif): formats and quality scales, sizes, the one ffmpeg command,
and the check of the written picture. Pure functions; the activities run them.

Every format's `quality` (1–100) maps onto its encoder's own scale in FORMATS, the one table of it
(docs: outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import InputKind
from recast.core.job import InputMetadata
from recast.core.requests import Clip
from recast.core.specs import ImageSpec, OutputSpec
from recast.core.timeline import join_framerate, output_duration_s
from recast.media.probe import first_stream
from recast.media.renditions import source_streams
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS, MediaError

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


# ---------------------------------------------------------------- sizes and times --------------------------


def fit_size(width: int, height: int, box_w: int | None, box_h: int | None) -> tuple[int, int]:
    """Fit inside the box (either side may be open), aspect kept, never upscaled; at least 1 pixel."""
    scale = 1.0
    if box_w is not None:
        scale = min(scale, box_w / width)
    if box_h is not None:
        scale = min(scale, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_s(meta: InputMetadata) -> float:
    return 1 / (meta.framerate or 25)


def last_frame_s(meta: InputMetadata) -> float:
    """The latest time that surely still has a frame at or after it (a seek past it finds nothing)."""
    return max(0.0, meta.duration_ms / 1000 - 1.5 * frame_s(meta))


def poster_time(meta: InputMetadata, asked: float | None) -> float:
    """The second a poster is taken from: as asked (clamped to the last frame), else the middle; a GIF's
    first frame, which is the picture a GIF is known by."""
    if asked is None:
        asked = 0.0 if meta.codec == "gif" else meta.duration_ms / 2000
    return min(asked, last_frame_s(meta))


@dataclass(frozen=True)
class ImagePlan:
    args: list[str]
    width: int
    height: int
    format: str


def needs_picture(kind: str, meta: InputMetadata) -> None:
    if meta.kind is InputKind.audio or not (meta.width and meta.height):
        raise MediaError("no-video-stream", f"the input has no video stream; {kind} needs one")


def encoder_quality(fmt: ImageFormat, quality: int | None) -> dict[str, Any]:
    opts = fmt.options(quality if quality is not None else fmt.default_quality)
    return {"c:v": fmt.encoder, **opts, **({"pix_fmt": fmt.pix_fmt} if fmt.pix_fmt else {})}


def output_meta(meta: InputMetadata, clip: Clip | None) -> InputMetadata:
    """The input as the outputs see it: lasting what the clip keeps (of the joined inputs)."""
    seconds = output_duration_s(meta.duration_ms, clip)
    return meta.model_copy(update={"duration_ms": round(seconds * 1000)})


def input_window(
    src: Path, meta: InputMetadata, parts: Sequence[Part], start: float, length: float | None
) -> Any:
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
    needs_picture(f"a {spec.type.value} output", meta)
    assert meta.width and meta.height
    image = spec.image or ImageSpec()
    fmt = FORMATS[spec.type.value]
    width, height = fit_size(meta.width, meta.height, image.width, image.height)
    if meta.kind is InputKind.image:
        picture = ffmpeg.input(f"file:{src}", **INPUT_OPTIONS)["v:0"]
    else:
        start = (clip.start if clip else 0.0) + poster_time(output_meta(meta, clip), image.time)
        if clip is None and len(parts) <= 1:
            # Input seeking: ffmpeg jumps to the keyframe before and decodes only up to the wanted frame.
            picture = ffmpeg.input(f"file:{src}", ss=f"{start:.3f}", **INPUT_OPTIONS)["v:0"]
        else:
            picture = input_window(src, meta, parts, start, None)
    if (width, height) != (meta.width, meta.height):
        picture = picture.filter("scale", width, height, flags="lanczos")
    out_opts: dict[str, Any] = {"frames:v": 1, "threads": 0, **encoder_quality(fmt, image.quality)}
    if fmt.muxer == "image2":
        out_opts["update"] = 1  # one file, not a numbered sequence
    out = ffmpeg.output(picture, f"file:{dst}", format=fmt.muxer, **out_opts)
    return ImagePlan([FFMPEG, *GLOBAL_ARGS, *out.get_args()], width, height, spec.type.value)


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
