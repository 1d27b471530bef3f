"""Test media made with lavfi (ffmpeg), and ways to look at media: ffprobe, Recast's own probe,
cropdetect. Nothing here needs a running stack."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from recast.core.job import InputMetadata
from recast.media import probe as probing
from tests.helpers.stacks import MAX_UPLOAD


def make_clip(
    path: Path, seconds: float = 2, size: str = "640x360", audio: bool = True, rate: int = 30
) -> Path:
    if path.exists():
        return path
    args = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}:duration={seconds}",
    ]
    if audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:a",
            "aac",
        ]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-shortest", str(path)]
    subprocess.run(args, check=True)
    return path


def make_with_ffmpeg(*args: str) -> None:
    """Run `ffmpeg -v error -y ARGS` to make a test file; fail the test when ffmpeg fails."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def keyed_clip(path: Path, background: str = "0x20C040", seconds: float = 2) -> Path:
    """A clip to key out: a solid `background` (0xRRGGBB) at 320x240 with a 120x90 testsrc2 picture
    sliding left to right across it (x = 20 + 60 t, y = 60), and a tone."""
    if not path.exists():
        make_with_ffmpeg(
            *("-f", "lavfi", "-i", f"color=c={background}:size=320x240:rate=25:duration={seconds}"),
            *("-f", "lavfi", "-i", f"testsrc2=size=120x90:rate=25:duration={seconds}"),
            *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"),
            *("-filter_complex", "[0][1]overlay=x='20+t*60':y=60:shortest=1[v]", "-map", "[v]", "-map", "2"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
            str(path),
        )
    return path


def make_tone(path: Path, seconds: float = 1) -> Path:
    """An audio-only input: a 440 Hz AAC tone at 44.1 kHz (made once)."""
    if not path.exists():
        sine = f"sine=frequency=440:sample_rate=44100:duration={seconds}"
        make_with_ffmpeg("-f", "lavfi", "-i", sine, "-c:a", "aac", str(path))
    return path


def long_clip(path: Path, seconds: int = 20) -> Path:
    """A 720p clip whose VP9 encode takes far longer than a test waits, compressed hard to stay under
    the test stacks' upload limit."""
    src = f"testsrc2=size=1280x720:rate=30:duration={seconds}"
    args = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "40", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src, *args], check=True)
    assert path.stat().st_size < MAX_UPLOAD
    return path


def thumbnail_inputs(d: Path) -> dict[str, Path]:
    """Inputs for thumbnail sets: a 4 s video, an 11 s silent one, and a still picture."""
    still = d / "still.png"
    make_with_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(still))
    return {
        "video": make_clip(d / "four.mp4", seconds=4, size="320x180", rate=10),
        "long": make_clip(d / "eleven.mp4", seconds=11, size="160x90", audio=False, rate=10),
        "still": still,
    }


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def stream(data: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((s for s in data["streams"] if s["codec_type"] == kind), None)


def probe(path: Path) -> InputMetadata:
    """What Recast's own probe makes of a file (as the worker would see it)."""
    return probing.input_metadata(asyncio.run(probing.probe_raw(path)), path.stat().st_size)


def meta(
    seconds: float, width: int | None = 640, height: int | None = 360, fps: float | None = 30
) -> InputMetadata:
    """Input metadata of an imagined file, for planning without media."""
    return InputMetadata(
        duration_ms=round(seconds * 1000), width=width, height=height, framerate=fps, file_size_bytes=1000
    )


def picture_box(path: Path, start: str = "0") -> tuple[int, int]:
    """Width and height of the non-black picture in five frames from `start` seconds (cropdetect)."""
    run = subprocess.run(
        ["ffmpeg", "-v", "info", "-ss", start, "-i", str(path), "-frames:v", "5", "-vf", "cropdetect=24:2:0",
         "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    w, h = re.findall(r"crop=(\d+):(\d+):", run.stderr)[-1]
    return int(w), int(h)


def frames_and_ends(path: Path) -> tuple[int, float, float]:
    """(video frames decoded, video end, audio end) of a file: ffprobe's full decode count and the last
    packets' end times."""
    count = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    packets = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=codec_type,pts_time,duration_time", "-of",
         "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    ends: dict[str, float] = {}
    for p in json.loads(packets)["packets"]:
        end = float(p["pts_time"]) + float(p.get("duration_time", 0))
        ends[p["codec_type"]] = max(ends.get(p["codec_type"], 0.0), end)
    return int(count.strip().rstrip(",")), ends["video"], ends["audio"]


def decode_errors(path: Path) -> str:
    run = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    )
    return run.stderr.strip() + ("" if run.returncode == 0 else f" (exit {run.returncode})")
