"""Animated previews (`gif`, animated `webp`): the ffmpeg command that cuts a short clip of the input,
lowers its frame rate and size, and writes it — through a palette pass for GIF (`palettegen` +
`paletteuse` in one filter graph, so the 256 colours are this clip's own) or libwebp_anim — and the
check of the written file. Pure functions; the activity runs them.

Debian's ffmpeg 5.1 cannot decode an animated WebP (its decoder skips the ANIM/ANMF chunks and
reports a 0x0 picture), so the check reads a WebP's RIFF chunks itself (`read_webp`): canvas size,
loop count and one ANMF chunk per frame. A GIF is checked with ffprobe, which counts its frames.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import OutputType
from recast.core.job import InputMetadata
from recast.core.previews import AnimationSpec
from recast.core.requests import Clip
from recast.core.specs import OutputSpec
from recast.core.timeline import output_duration_s
from recast.media.images import Part, fit_size, input_window, needs_picture
from recast.media.probe import duration_s, first_stream
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS, MediaError

WEBP_DEFAULT_QUALITY = 75


@dataclass(frozen=True)
class AnimationPlan:
    args: list[str]
    width: int
    height: int
    fps: float
    duration_s: float  # what the preview lasts: the asked duration, or up to the input's end
    frames: int  # how many frames it should have (fps × duration)
    loop: bool


def animation_plan(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    dst: Path,
    parts: Sequence[Part] = (),
    clip: Clip | None = None,
) -> AnimationPlan:
    """One ffmpeg process making the preview; its start counts from the clip's start, on a join's
    timeline (the frames come from media.source_streams, like every other output's)."""
    needs_picture(f"an animated {spec.type.value}", meta)
    assert meta.width and meta.height
    anim = spec.animation or AnimationSpec()
    total = output_duration_s(meta.duration_ms, clip)
    if anim.start >= total:
        raise MediaError(
            "invalid-animation",
            f"the animation starts at {anim.start:g} s, past the end of the input ({total:.2f} s)",
        )
    length = min(anim.duration, total - anim.start)
    fps = min(anim.fps, meta.framerate or anim.fps)  # never more frames than the input has
    width, height = fit_size(meta.width, meta.height, anim.width, None)
    start = (clip.start if clip else 0.0) + anim.start
    if clip is None and len(parts) <= 1:
        video = ffmpeg.input(f"file:{src}", ss=f"{start:.3f}", t=f"{length:.3f}", **INPUT_OPTIONS)["v:0"]
    else:
        video = input_window(src, meta, parts, start, length)
    video = video.filter("fps", fps=fps).filter("scale", width, height, flags="lanczos")
    if spec.type is OutputType.gif:
        # One graph, two branches of the same frames: palettegen reads them all for the clip's own
        # palette (`diff`: weighted to what moves), paletteuse maps them onto it.
        branches = video.split()
        palette = branches[1].filter("palettegen", max_colors=anim.colors or 256, stats_mode="diff")
        picture = ffmpeg.filter(
            [branches[0], palette], "paletteuse", dither="bayer", bayer_scale=5, diff_mode="rectangle"
        )
        # gif muxer: 0 loops forever, -1 plays once.
        opts: dict[str, Any] = {"format": "gif", "loop": 0 if anim.loop else -1}
    else:
        picture = video
        quality = anim.quality if anim.quality is not None else WEBP_DEFAULT_QUALITY
        # libwebp_anim: 0 loops forever, 1 plays once.
        opts = {
            "format": "webp",
            "c:v": "libwebp_anim",
            "quality": quality,
            "compression_level": 4,
            "loop": 0 if anim.loop else 1,
            "pix_fmt": "yuv420p",
        }
    out = ffmpeg.output(picture, f"file:{dst}", **{"an": None, "threads": 0, **opts})
    return AnimationPlan(
        [FFMPEG, *GLOBAL_ARGS, *out.get_args()],
        width,
        height,
        fps,
        length,
        max(1, round(length * fps)),
        anim.loop,
    )


# ---------------------------------------------------------------- reading the result ----------------------


@dataclass(frozen=True)
class Animation:
    """What an animated file holds, as read back."""

    width: int
    height: int
    frames: int
    duration_s: float
    loop: int | None  # loop count as stored: 0 forever; None when unknown


def read_webp(data: bytes) -> Animation:
    """An animated WebP's canvas, frames, total duration and loop count, from its RIFF chunks (VP8X
    canvas size, ANIM loop count, one ANMF per frame with its duration in ms)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MediaError("output-mismatch", "the webp file is not a RIFF WebP")
    width = height = 0
    frames, total_ms, loop = 0, 0, None
    at = 12
    while at + 8 <= len(data):
        tag = data[at : at + 4]
        (size,) = struct.unpack("<I", data[at + 4 : at + 8])
        body = data[at + 8 : at + 8 + size]
        if tag == b"VP8X" and len(body) >= 10:
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
        elif tag == b"ANIM" and len(body) >= 6:
            (loop,) = struct.unpack("<H", body[4:6])
        elif tag == b"ANMF" and len(body) >= 16:
            frames += 1
            total_ms += int.from_bytes(body[12:15], "little")
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    return Animation(width, height, frames, total_ms / 1000, loop)


def read_gif(probed: dict[str, Any]) -> Animation:
    """A GIF as ffprobe (with -count_frames) reports it; its loop count is not reported."""
    picture = first_stream(probed, "video") or {}
    frames = str(picture.get("nb_read_frames", "0"))
    return Animation(
        int(picture.get("width") or 0),
        int(picture.get("height") or 0),
        int(frames) if frames.isdigit() else 0,
        duration_s(probed),
        None,
    )


def check_animation(got: Animation, plan: AnimationPlan, kind: str) -> None:
    """The preview has the planned size, about the planned number of frames, and lasts about as long."""
    if (got.width, got.height) != (plan.width, plan.height):
        raise MediaError(
            "output-mismatch", f"expected a {plan.width}x{plan.height} {kind}, got {got.width}x{got.height}"
        )
    # The fps filter rounds the first and last frame's timing: one frame either way is fine.
    if abs(got.frames - plan.frames) > max(1, round(plan.frames * 0.05)):
        raise MediaError(
            "output-mismatch", f"expected about {plan.frames} frames, the {kind} has {got.frames}"
        )
    if abs(got.duration_s - plan.duration_s) > max(0.25, 2 / plan.fps):
        raise MediaError(
            "output-mismatch",
            f"the {kind} lasts {got.duration_s:.2f} s but should last {plan.duration_s:.2f} s",
        )
    if kind == "webp" and got.loop != (0 if plan.loop else 1):
        raise MediaError("output-mismatch", f"the webp's loop count is {got.loop}, not as asked")
