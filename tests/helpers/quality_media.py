"""Test media and looks for remux, verification and quality metrics: a browser-ready input, a file's
top-level MP4 boxes, the packets of a stream, a damaged copy of a file."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from tests.helpers.media import make_with_ffmpeg


def web_clip(path: Path, seconds: float = 2, size: str = "640x360") -> Path:
    """An input already as an h264 mp4 output asks: High profile yuv420p at 30 fps and ~500 kb/s, AAC
    stereo 48 kHz at 128 kb/s, moov at the end (ffmpeg's default, so a remux visibly moves it). Made once."""
    if not path.exists():
        make_with_ffmpeg(
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-ac", "2", "-c:a", "aac", "-b:a", "128k",
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-b:v", "500k",
            "-pix_fmt", "yuv420p", "-shortest", str(path),
        )  # fmt: skip
    return path


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 file's top-level box types in order (`ftyp`, `moov`, `mdat`, …)."""
    boxes, data, at = [], path.read_bytes(), 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        at += size
    return boxes


def packets(path: Path, kind: str = "v") -> list[tuple[str, str]]:
    """(size, flags) of every packet of the file's first `kind` stream, in order."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", f"{kind}:0", "-show_entries", "packet=size,flags",
         "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [tuple(line.split(",", 1)) for line in out.splitlines() if line]  # type: ignore[misc]


def stream_md5(path: Path, kind: str = "v") -> str:
    """MD5 of the first `kind` stream's packets, stream-copied (not decoded): equal for equal packets."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{kind}:0", "-c", "copy", "-f", "md5", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip()


def damaged(src: Path, dst: Path, *, keep: float | None = None, flip_at: float | None = None) -> Path:
    """A copy of `src` cut to its first `keep` share of bytes, or with 4 kB of bytes flipped from
    `flip_at` (a share of the file) on."""
    data = bytearray(src.read_bytes())
    if keep is not None:
        data = data[: int(len(data) * keep)]
    if flip_at is not None:
        start = int(len(data) * flip_at)
        for i in range(start, min(len(data), start + 4096), 7):
            data[i] ^= 0x5A
    dst.write_bytes(bytes(data))
    return dst


def vfr_clip(path: Path) -> Path:
    """A variable-frame-rate input: 3 s, 30 fps for the first second then 10 fps, with stereo AAC (made once)."""
    if not path.exists():
        make_with_ffmpeg(
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=3",
            "-f", "lavfi", "-i", "sine=duration=3:sample_rate=48000",
            "-vf", "select='lt(n,30)+not(mod(n,3))',setpts='if(lt(N,30),N/30/TB,(1+(N-30)/10)/TB)'",
            "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ac", "2", str(path),
        )  # fmt: skip
    return path
