"""The check a stitched output must pass before it may be `completed`: the full decode pass every
video output gets (recast/media/verify.py: every video frame decoded, the audio's packets read; not a
probe of the headers) with no decode error, exactly the
expected number of video frames, a duration within one frame of the expected one, and audio and video
ending within 40 ms of each other.

A seam that does not join cleanly shows up here: a missing or doubled frame changes the count, a
chunk whose first frame refers to another chunk's frames is a decode error.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from recast.media.tools import MediaError
from recast.media.verify import full_decode as decode_in_full

AV_END_TOLERANCE_S = 0.040


@dataclass(frozen=True)
class DecodeReport:
    frames: int  # video frames decoded
    errors: list[str]  # what the decoders reported (empty: a clean decode)
    video_end_s: float | None
    audio_end_s: float | None


async def full_decode(path: Path) -> DecodeReport:
    """The decode pass every video output gets (recast/media/verify.py), as the stitch check reads it."""
    report = await decode_in_full(path)
    return DecodeReport(report.video_frames, report.errors, report.video_end_s, report.audio_end_s)


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
