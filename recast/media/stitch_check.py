"""The check a stitched output must pass before it may be `completed`: a full decode pass of the whole
file (every frame of every stream, not a probe of the headers) with no decode error, exactly the
expected number of video frames, a duration within one frame of the expected one, and audio and video
ending within 40 ms of each other.

A seam that does not join cleanly shows up here: a missing or doubled frame changes the count, a
chunk whose first frame refers to another chunk's frames is a decode error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from recast.media.tools import FFMPEG, FFPROBE, MediaError

AV_END_TOLERANCE_S = 0.040


@dataclass(frozen=True)
class DecodeReport:
    frames: int  # video frames decoded
    errors: list[str]  # what the decoders reported (empty: a clean decode)
    video_end_s: float | None
    audio_end_s: float | None


async def full_decode(path: Path) -> DecodeReport:
    """Decode every stream of `path` (ffmpeg to the null muxer, frames passed through as they are) and
    read where each stream ends from its packets."""
    proc = await asyncio.create_subprocess_exec(
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-i",
        f"file:{path}",
        "-map",
        "0",
        "-fps_mode",
        "passthrough",
        "-progress",
        "pipe:1",
        "-nostats",
        "-f",
        "null",
        "-",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    errors = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
    if proc.returncode != 0:
        errors.append(f"ffmpeg exited with {proc.returncode}")
    frames = 0
    for line in out.decode(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key == "frame" and value.strip().isdigit():
            frames = int(value)
    video_end, audio_end = await _stream_ends(path)
    return DecodeReport(frames, errors, video_end, audio_end)


async def _stream_ends(path: Path) -> tuple[float | None, float | None]:
    """(video end, audio end) in seconds: the latest packet's presentation time plus its duration."""
    proc = await asyncio.create_subprocess_exec(
        FFPROBE,
        "-v",
        "error",
        "-show_entries",
        "packet=codec_type,pts_time,duration_time",
        "-of",
        "csv=p=0",
        f"file:{path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    ends: dict[str, float] = {}
    for line in out.decode(errors="replace").splitlines():
        fields = line.split(",")
        if len(fields) < 3:
            continue
        try:
            end = float(fields[1]) + float(fields[2])
        except ValueError:
            continue
        ends[fields[0]] = max(ends.get(fields[0], end), end)
    return ends.get("video"), ends.get("audio")


def verify(report: DecodeReport, frames: int, rate: Fraction, audio: bool) -> None:
    """Refuse a stitched output that is not whole: raises MediaError `stitch-mismatch`."""
    if report.errors:
        raise MediaError(
            "stitch-mismatch", "decoding the stitched output failed: " + " | ".join(report.errors[:5])
        )
    if report.frames != frames:
        raise MediaError(
            "stitch-mismatch", f"the stitched output has {report.frames} frames, expected {frames}"
        )
    expected_s = float(frames / rate)
    frame_s = float(1 / rate)
    if report.video_end_s is None or abs(report.video_end_s - expected_s) > frame_s + 0.0015:
        raise MediaError(
            "stitch-mismatch", f"the stitched video ends at {report.video_end_s}s, expected {expected_s:.3f}s"
        )
    if audio:
        if report.audio_end_s is None:
            raise MediaError("stitch-mismatch", "the stitched output has no audio")
        if abs(report.audio_end_s - report.video_end_s) > AV_END_TOLERANCE_S:
            raise MediaError(
                "stitch-mismatch",
                f"audio ends at {report.audio_end_s:.3f}s, video at {report.video_end_s:.3f}s "
                f"(more than {AV_END_TOLERANCE_S * 1000:.0f} ms apart)",
            )
