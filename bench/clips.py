"""What the benchmarks share: generated clips (kept in bench/results/, made once) and a running stack."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from recast.devstack.stack import Stack, free_port

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


def chunked_source(seconds: int, gop: int | None = None) -> Path:
    """The split-and-stitch benches' source (bench/chunked.py, bench/chunk_parts.py): 1080p30 with a
    tone, a keyframe every `gop` frames or x264's default 250; made once in RESULTS."""
    suffix = f"-gop{gop}" if gop else ""
    return make_clip(RESULTS / f"chunked-src-{seconds}s-1080p{suffix}.mp4", seconds, "1920x1080", gop=gop)


@contextmanager
def bench_stack(key: str, env: dict[str, str] | None = None) -> Iterator[tuple[Stack, httpx.Client, Path]]:
    """A fresh Recast (dev server on SQLite, one worker, the API) with the API key `key` and `env`: the
    stack, an HTTP client for its API, and a scratch folder removed afterwards."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        # Worker metrics on, as in production, but on a free port: 9464 is `make run`'s; `env` overrides.
        Stack(
            Path(tmp) / "stack",
            {
                "RECAST_API_KEYS": f"{key}=bench",
                "RECAST_WORKER_METRICS_PORT": str(free_port()),
                **(env or {}),
            },
            quiet=True,
        ) as stack,
    ):
        stack.start_temporal(free_port(), None, Path(tmp) / "temporal.db")
        stack.start_worker()
        port = free_port()
        stack.start_api("127.0.0.1", port)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as http:
            yield stack, http, Path(tmp)
