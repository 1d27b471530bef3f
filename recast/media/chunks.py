"""Split-and-stitch, the cutting side: how many frames the source has and at what constant rate, where
the chunk boundaries fall (whole frames), and the ffmpeg command that encodes one chunk's frames.

A chunk is its own encode of frames `[start, start + frames)` of the source, with exactly the settings
of the whole output's encode (`renditions._video_options`, the same scaler and pixel format). Its first
frame is a keyframe the encoder must make, and no frame of it refers to another chunk (a closed GOP by
construction), so the chunks join by stream copy (recast/media/stitch.py). The seek lands half a frame
before the chunk's first frame, so rounding can never take the frame before it or skip it, and
`-frames:v` cuts the chunk after exactly its frames. Audio is never in a chunk: the stitch encodes it
once for the whole timeline.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import OutputType
from recast.core.job import InputMetadata
from recast.core.requests import Clip
from recast.core.specs import OutputSpec, target_size
from recast.media import renditions
from recast.media.probe import ffprobe_json
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS, MediaError

# Containers chunks are written in: the output's own (the concat demuxer reads them back), matroska
# for both webm and mkv.
CHUNK_EXT: dict[OutputType, str] = {
    OutputType.mp4: "mp4",
    OutputType.mov: "mov",
    OutputType.webm: "webm",
    OutputType.mkv: "mkv",
}


@dataclass(frozen=True)
class FrameLayout:
    """The source's video: how many frames, at which rate, whether that rate is constant, and which
    frames (by index in presentation order) are keyframes."""

    frames: int
    rate: Fraction
    constant: bool
    keyframes: tuple[int, ...] = ()


async def frame_layout(path: Path, meta: InputMetadata) -> FrameLayout:
    """Read the source's video packets (a demux, no decode: well under a second for a minute of 1080p):
    one per frame, and where its keyframes are; and its frame rate. Constant: ffprobe's two rates
    agree and the count matches the duration within a frame and a half."""
    data, detail = await ffprobe_json(
        *(arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)),
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=r_frame_rate,avg_frame_rate:packet=pts_time,flags",
        f"file:{path}",
    )
    streams = (data or {}).get("streams") or []
    if not streams:
        raise MediaError(
            "invalid-media", "the input's video stream cannot be read: " + " | ".join(detail[-3:])
        )
    stream = streams[0]
    packets = [p for p in (data or {}).get("packets") or [] if p.get("pts_time") not in (None, "N/A")]
    frames = len(packets)
    rate = _fraction(stream.get("r_frame_rate"))
    avg = _fraction(stream.get("avg_frame_rate"))
    constant = bool(rate and avg and rate == avg)
    if constant and rate:
        constant = abs(frames - meta.duration_ms / 1000 * float(rate)) <= 1.5
    keyframes: tuple[int, ...] = ()
    if packets and rate:
        start = min(float(p["pts_time"]) for p in packets)
        keyframes = tuple(
            sorted(
                round((float(p["pts_time"]) - start) * float(rate))
                for p in packets
                if "K" in str(p.get("flags", ""))
            )
        )
    return FrameLayout(frames, rate or Fraction(0), constant, keyframes)


def _fraction(text: str | None) -> Fraction | None:
    try:
        value = Fraction(text or "")
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def frame_span(layout: FrameLayout, clip: Clip | None) -> tuple[int, int]:
    """[first, end) frames of the output: all of them, or a clip's — the frames whose time is within
    [start, end), as a whole encode's accurate seek and `-t` keep them."""
    if clip is None:
        return 0, layout.frames
    nudge = Fraction(1, 10**6)
    first = min(layout.frames, math.ceil(Fraction(clip.start) * layout.rate - nudge))
    end = layout.frames if clip.end is None else math.ceil(Fraction(clip.end) * layout.rate - nudge)
    return first, max(first, min(end, layout.frames))


def ranges(
    frames: int, rate: Fraction, chunk_s: float, first: int = 0, keyframes: Sequence[int] = ()
) -> list[tuple[int, int]]:
    """(start frame, frames) of each chunk of `frames` frames from `first`: about `chunk_s` of frames
    each, the last one taking the rest (merged into the one before when shorter than half a chunk).

    A boundary moves to a keyframe of the source within a tenth of a chunk of it, when there is one:
    a chunk's seek then decodes nothing it throws away (from a boundary inside a GOP, ffmpeg decodes
    from the keyframe before it: 10 s chunks over a 60 s source with a keyframe every 250 frames
    decode 500 frames twice, 2.6 s of CPU against a ~100 s VP9 encode). The output is the same either
    way. Not farther: a quarter of a chunk (chunks of 250–350 frames for that source, handed out
    longest first) saved that decode but cost the 2-worker speed-up more (1.75× against 1.86×,
    bench/chunked.py), as Temporal does not strictly hand queued chunks out in the order scheduled."""
    per = max(1, round(float(rate) * chunk_s))
    end = first + frames
    starts = [first]
    # Targets stay on the grid (never drifting with a moved boundary), so the chunks keep their count
    # and stay near one length: what spreads them evenly over the workers.
    for target in range(first + per, end, per):
        near = [k for k in keyframes if abs(k - target) <= per // 10 and starts[-1] < k < end]
        starts.append(min(near, key=lambda k: abs(k - target)) if near else target)
    if len(starts) > 1 and end - starts[-1] < per / 2:
        starts.pop()
    bounds = [*starts, end]
    return [(a, b - a) for a, b in itertools.pairwise(bounds)]


def chunk_command(
    spec: OutputSpec,
    meta: InputMetadata,
    src: Path,
    dst: Path,
    start_frame: int,
    frames: int,
    rate: Fraction,
    threads: int = 0,
) -> list[str]:
    """The ffmpeg command encoding frames `[start_frame, start_frame + frames)` of `src` into `dst`,
    video only, with the output's own encoder settings."""
    assert meta.width and meta.height
    variant = spec.video[0]
    size = target_size(variant, meta.width, meta.height)
    # Half a frame before the first frame: accurate seeking drops every frame before that instant.
    seek = Clip(start=float((start_frame - Fraction(1, 2)) / rate)) if start_frame > 0 else None
    video, _ = renditions.source_streams(src, meta, [], seek, size, None, None, variant.fit)
    # The chunk's timestamps start at 0, as the whole encode's first frame does.
    video = video.filter("setpts", "PTS-STARTPTS")
    opts: dict[str, Any] = {
        "threads": threads,
        "frames:v": frames,
        **renditions._video_options(spec, variant),
    }
    out = ffmpeg.output(video, f"file:{dst}", format=renditions.MUXERS[spec.type], **opts)
    return [FFMPEG, *GLOBAL_ARGS, *out.get_args()]


def chunk_name(index: int, spec: OutputSpec) -> str:
    return f"chunk_{index:05d}.{CHUNK_EXT[spec.type]}"


def unchunkable(layout: FrameLayout, spec: OutputSpec) -> str | None:
    """Why this source cannot be cut at exact frames for this output (then it is encoded whole)."""
    lowered = spec.video[0].framerate
    if lowered and lowered < float(layout.rate):
        return "the output lowers the frame rate"
    if spec.metrics:
        return "metrics are measured on a whole encode"  # by encode_output (activities/quality.py)
    if not layout.constant:
        return "the input's frame rate is not constant"
    if layout.frames < 2:
        return "the input has fewer than two frames"
    return None
