"""The generated clips the benchmarks share (kept in bench/results/, made once)."""

from __future__ import annotations

import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def make_clip(path: Path, seconds: int, size: str, *, audio: bool = True, gop: int | None = None) -> Path:
    """A testsrc2 H.264 clip at 30 fps (with a 440 Hz AAC tone unless `audio` is False; a keyframe
    every `gop` frames if given, else x264's default). Made only when `path` does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        args = [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate=30:duration={seconds}",
        ]
        if audio:
            args += [
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:duration={seconds}",
                "-c:a",
                "aac",
                "-shortest",
            ]
        args += ["-c:v", "libx264", "-preset", "fast", "-pix_fmt", "yuv420p"]
        if gop:
            args += ["-g", str(gop)]
        subprocess.run([*args, str(path)], check=True)
    return path
