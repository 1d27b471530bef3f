"""Deeper verification: every video output is decoded in full before it may be `completed`.

The probe check (renditions.check_output, streaming.check_package) reads what the container *says*:
codec, size, duration. A file can say all that and still not play to the end: a truncated `mdat`
behind an intact `moov`, a corrupt packet, an encoder that dropped frames. `full_decode` reads every
packet of the first video and audio stream, decodes the video once, and reports what came out;
`check_decode` compares that with what the plan expects and fails the output with `verification-failed`.

The decode pass is one ffmpeg process: the first video stream decoded with the decoder's default
threads (every frame parsed and reconstructed; only the deblocking filter skipped, see decode_args),
the first audio stream's packets read but not decoded (their timestamps say where it ends); each
frame handed to the `framecrc` muxer wrapped, not converted (`wrapped_avframe`: no
pixel copy or format conversion), in passthrough timing (`-fps_mode passthrough`: no frame dropped or
duplicated) and in the input's own time base (`-enc_time_base -1`), so every line is one decoded frame
with its exact timestamp and duration. Decode errors are ffmpeg's `-v error` lines on stderr. What it
costs against the encode: `bench/verify_cost.py` (docs/benchmarks.md, "Verification and metrics").

`full_decode(path) -> DecodeReport` is a stable interface: the chunked encoder checks its stitched
outputs with it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from recast.media.tools import FFMPEG, INPUT_OPTIONS, MediaError

# The first few decode errors go into the failure's message; the count is always complete.
KEEP_ERRORS = 5


@dataclass(frozen=True)
class DecodeReport:
    """What one full decode of a file gave.

    `video_frames`/`audio_frames`: frames decoded from the first video / audio stream (audio frames are
    the codec's packets of samples); `decode_errors`: error lines ffmpeg printed while demuxing and
    decoding (`errors` holds the first few); `video_end_s`/`audio_end_s`: where the last decoded frame
    of that stream ends (pts + duration, seconds; None without such a stream); `duration_s`: the later
    of the two; `seconds`: how long the decode took (wall clock)."""

    video_frames: int
    audio_frames: int
    decode_errors: int
    video_end_s: float | None
    audio_end_s: float | None
    duration_s: float
    seconds: float
    video_start_s: float | None = None
    errors: list[str] = field(default_factory=list)


def decode_args(path: Path, threads: int = 0) -> list[str]:
    """The ffmpeg command of one full decode of `path` (its report on stdout, errors on stderr)."""
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-v",
        "error",
        *(arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)),
        "-threads",
        str(threads),
        # Every frame is still parsed and reconstructed (a bitstream error is found all the same); only
        # the deblocking filter, which smooths pixels nobody looks at here and can find no error, is
        # skipped: ~17 % of the decode's CPU (docs/benchmarks.md, "Verification and metrics").
        "-skip_loop_filter",
        "all",
        "-i",
        f"file:{path}",
        # The first video and audio stream: what the checks look at (`?`: either may be absent).
        "-map",
        "0:v:0?",
        "-map",
        "0:a:0?",
        "-fps_mode",
        "passthrough",
        "-enc_time_base:v",
        "-1",
        "-c:v",
        "wrapped_avframe",
        # The audio's packets are enough to say where it ends (their timestamps and durations); decoding
        # them too would add ~10 % to the check for nothing the video checks need.
        "-c:a",
        "copy",
        "-f",
        "framecrc",
        "-",
    ]


def read_report(stdout: str, stderr: str, seconds: float) -> DecodeReport:
    """A DecodeReport from framecrc's output (`#tb N: a/b`, `#media_type N: video`, then lines
    `stream, dts, pts, duration, size, crc`) and ffmpeg's stderr."""
    time_base: dict[int, Fraction] = {}
    kinds: dict[int, str] = {}
    frames: dict[int, int] = {}
    first: dict[int, int] = {}
    end: dict[int, int] = {}
    for line in stdout.splitlines():
        if line.startswith("#tb "):
            index, _, value = line[4:].partition(":")
            num, _, den = value.strip().partition("/")
            time_base[int(index)] = Fraction(int(num), int(den or 1))
        elif line.startswith("#media_type "):
            index, _, value = line[len("#media_type ") :].partition(":")
            kinds[int(index)] = value.strip()
        elif line and not line.startswith("#"):
            parts = [p.strip() for p in line.split(",")]
            if len(parts) < 4 or not parts[0].isdigit():
                continue
            stream, pts, duration = int(parts[0]), int(parts[2]), int(parts[3])
            frames[stream] = frames.get(stream, 0) + 1
            first[stream] = min(first.get(stream, pts), pts)
            end[stream] = max(end.get(stream, pts + duration), pts + duration)

    def stream_of(kind: str) -> int | None:
        return next((i for i in sorted(kinds) if kinds[i] == kind), None)

    def seconds_of(stream: int | None, table: dict[int, int]) -> float | None:
        if stream is None or stream not in table:
            return None
        return float(table[stream] * time_base.get(stream, Fraction(1)))

    video, audio = stream_of("video"), stream_of("audio")
    errors = [line for line in stderr.splitlines() if line.strip()]
    video_end, audio_end = seconds_of(video, end), seconds_of(audio, end)
    return DecodeReport(
        video_frames=frames.get(video, 0) if video is not None else 0,
        audio_frames=frames.get(audio, 0) if audio is not None else 0,
        decode_errors=len(errors),
        video_end_s=video_end,
        audio_end_s=audio_end,
        duration_s=max(e for e in (video_end, audio_end, 0.0) if e is not None),
        seconds=round(seconds, 3),
        video_start_s=seconds_of(video, first),
        errors=errors[:KEEP_ERRORS],
    )


async def full_decode(path: Path, threads: int = 0, timeout_s: float | None = None) -> DecodeReport:
    """Decode every frame of the first video and audio stream of `path`, once, and report what came out.

    `threads`: the decoders' threads (0: ffmpeg's default, one per core and one more); `timeout_s`: give
    up (raise TimeoutError) after that long. The ffmpeg process is killed if the caller is cancelled.
    A file ffmpeg cannot open at all is a report with its error and no frames, not an exception: the
    check decides what that means."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *decode_args(path, threads),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
    stderr = err.decode(errors="replace")
    if proc.returncode != 0 and not stderr.strip():
        stderr = f"ffmpeg exited with {proc.returncode}"
    return read_report(out.decode(errors="replace"), stderr, time.monotonic() - started)


def frame_tolerance(expected_frames: float) -> float:
    """How many frames a decode may differ from the plan: a frame or two (rounding at the cut ends),
    and 0.2 % on long outputs, where a frame rate rounded to three decimals adds up."""
    return max(2.0, expected_frames * 0.002)


def duration_tolerance_s(duration: float) -> float:
    """As the probe check's (renditions.duration_tolerance_s): 0.25 s or 2 %."""
    return max(0.25, duration * 0.02)


def check_decode(
    report: DecodeReport,
    *,
    duration_s: float,
    framerate: float | None,
    video_duration_s: float | None = None,
    audio_duration_s: float | None = None,
    label: str = "the output",
) -> None:
    """Refuse an output whose full decode is not what the plan expects: `verification-failed`.

    `duration_s`: what the output must last (the later stream's end, as the probe check); `framerate`:
    its frames per second (None: frames not counted); `video_duration_s`: how long its video stream is
    meant to be (default `duration_s`; the container's own figure for a video stream that legitimately
    ends before the audio); `audio_duration_s`: the output has audio, which must decode to that end."""
    where = f"{label}: " if label else ""

    def fail(message: str) -> MediaError:
        return MediaError("verification-failed", where + message)

    if report.decode_errors:
        shown = "; ".join(line[:200] for line in report.errors)
        raise fail(f"{report.decode_errors} decode error(s) in a full decode: {shown}")
    if report.video_frames == 0:
        raise fail("no video frame decoded")
    if abs(report.duration_s - duration_s) > duration_tolerance_s(duration_s):
        raise fail(f"decodes to {report.duration_s:.3f}s, expected {duration_s:.3f}s")
    video_s = video_duration_s if video_duration_s is not None else duration_s
    assert report.video_end_s is not None
    video_span = report.video_end_s - (report.video_start_s or 0.0)
    if framerate:
        want = video_s * framerate
        if abs(report.video_frames - want) > frame_tolerance(want):
            raise fail(
                f"decoded {report.video_frames} video frames, expected {round(want)} "
                f"({video_s:.3f}s at {framerate:g} fps)"
            )
        if video_span < video_s - max(2 / framerate, 0.1):
            raise fail(f"its video decodes to {video_span:.3f}s, expected {video_s:.3f}s")
    if audio_duration_s is not None:
        if report.audio_end_s is None or report.audio_frames == 0:
            raise fail("its audio does not decode")
        if abs(report.audio_end_s - audio_duration_s) > duration_tolerance_s(audio_duration_s):
            raise fail(f"its audio decodes to {report.audio_end_s:.3f}s, expected {audio_duration_s:.3f}s")
