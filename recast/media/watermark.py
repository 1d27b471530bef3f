"""Watermarks: an image laid over a video output's picture with ffmpeg's `overlay`, sized as a fraction
of the frame's width, placed in a corner or the centre, faded by `colorchannelmixer` and shown only
between its start and end (`enable`). Pure filter-graph building; renditions and streaming call it
after they have sized the picture, so a ladder gets it on every rung at that rung's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import InputKind
from recast.core.job import InputMetadata
from recast.core.watermark import Position, WatermarkSpec
from recast.media.tools import INPUT_OPTIONS, MediaError


def image_streams(image: Path, count: int) -> list[Any]:
    """The watermark picture as `count` streams (one per rung): one input, split, since ffmpeg refuses
    one input node with several consumers."""
    picture = ffmpeg.input(f"file:{image}", **INPUT_OPTIONS)["v:0"]
    if count == 1:
        return [picture]
    split = picture.filter_multi_output("split", count)
    return [split.stream(i) for i in range(count)]


def box(spec: WatermarkSpec, frame_w: int, scale: float = 1.0) -> tuple[int, int]:
    """(width, margin) of the watermark on a frame `frame_w` wide; `scale` scales the margin (a rung
    smaller than the ladder's largest)."""
    return max(2, round(spec.width * frame_w / 2) * 2), round(spec.margin * scale)


def position(spec: WatermarkSpec, margin: int) -> tuple[str, str]:
    """overlay's x and y expressions (W, H: the frame; w, h: the watermark)."""
    if spec.position is Position.middle:
        return "(W-w)/2", "(H-h)/2"
    x = str(margin) if spec.position in (Position.top_left, Position.bottom_left) else f"W-w-{margin}"
    y = str(margin) if spec.position in (Position.top_left, Position.top_right) else f"H-h-{margin}"
    return x, y


def overlay(video: Any, mark: Any, spec: WatermarkSpec, frame_w: int, scale: float = 1.0) -> Any:
    """`video` (frame `frame_w` wide) with the watermark `mark` over it, as `spec` says. Its time window
    counts from the output's start (after a clip: from the clip's start)."""
    width, margin = box(spec, frame_w, scale)
    # -2: the height from the aspect ratio, even (every chroma subsampling takes it).
    mark = mark.filter("scale", width, -2).filter("format", "rgba")
    if spec.opacity < 1:
        mark = mark.filter("colorchannelmixer", aa=f"{spec.opacity:.3f}")
    x, y = position(spec, margin)
    window = f"gte(t,{spec.start:.3f})" if spec.end is None else f"between(t,{spec.start:.3f},{spec.end:.3f})"
    # eof_action=repeat: the picture's one frame stays for the whole video.
    return ffmpeg.filter([video, mark], "overlay", x=x, y=y, enable=window, eof_action="repeat")


def check_image(meta: InputMetadata, max_pixels: int) -> None:
    """A watermark is a still picture (JPEG, PNG, WebP, a one-frame GIF) within the pixel limit."""
    if meta.kind is not InputKind.image:
        raise MediaError(
            "invalid-watermark",
            f"the watermark image is {'a video' if meta.width else 'audio'}, not a still picture "
            "(JPEG, PNG, WebP or a one-frame GIF)",
        )
    pixels = (meta.width or 0) * (meta.height or 0)
    if pixels > max_pixels:
        raise MediaError(
            "invalid-watermark",
            f"the watermark image is {meta.width}x{meta.height}, more than the limit of "
            f"{max_pixels / 1e6:g} megapixels",
        )
