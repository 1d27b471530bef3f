"""Thumbnail sets: one decode with a `select` filter (what Recast does) vs seeking once per image.

    .venv/bin/python bench/thumbnails.py [--runs 3] [--seconds 60]

On a 720p H.264 clip (x264 `fast`, keyframe every 250 frames), N evenly spaced 320-wide JPEGs made
three ways: Recast's plan (recast/images.py: ONE process, the input decoded once up to the last
picture); one process with N inputs each seeked with `-ss` (N decoders, each from the keyframe before
its time); and N processes, one seek each. Prints medians of wall time and peak memory; writes
bench/results/thumbnails.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recast import images, media  # noqa: E402
from recast.models import InputMetadata, OutputSpec  # noqa: E402

RESULTS = ROOT / "bench" / "results"
GNU_TIME = shutil.which("time") or "/usr/bin/time"


def make_clip(path: Path, seconds: int) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
             "-c:v", "libx264", "-preset", "fast", "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
    return path


def timed(commands: list[list[str]]) -> tuple[float, int]:
    """Run the commands one after the other: (wall seconds, highest peak RSS in MiB)."""
    peak = 0
    start = time.perf_counter()
    for args in commands:
        run = subprocess.run([GNU_TIME, "-f", "%M", *args], capture_output=True, check=True)
        peak = max(peak, int(run.stderr.decode().strip().splitlines()[-1]))
    return time.perf_counter() - start, peak // 1024


def recast_plan(clip: Path, meta: InputMetadata, n: int, out: Path) -> list[list[str]]:
    spec = OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"count": n, "width": 320}})
    return [images.thumbnails_plan(spec, meta, clip, out).args]


def seek_inputs(clip: Path, times: list[float], out: Path) -> list[list[str]]:
    args = ["ffmpeg", "-v", "error", "-y"]
    for t in times:
        args += ["-threads", "1", "-ss", f"{t:.3f}", "-i", str(clip)]
    for i in range(len(times)):
        args += [
            "-map",
            f"{i}:v:0",
            "-frames:v",
            "1",
            "-vf",
            "scale=320:-2",
            "-q:v",
            "6",
            str(out / f"s{i}.jpg"),
        ]
    return [args]


def seek_processes(clip: Path, times: list[float], out: Path) -> list[list[str]]:
    return [
        ["ffmpeg", "-v", "error", "-y", "-ss", f"{t:.3f}", "-i", str(clip), "-frames:v", "1",
         "-vf", "scale=320:-2", "-q:v", "6", str(out / f"p{i}.jpg")]
        for i, t in enumerate(times)
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    opts = parser.parse_args()
    clip = make_clip(RESULTS / f"clip-{opts.seconds}s-1280x720.mp4", opts.seconds)
    import asyncio

    meta = media.input_metadata(asyncio.run(media.probe_raw(clip)), clip.stat().st_size)
    rows: list[dict[str, Any]] = []
    for n in (10, 50):
        times = images.thumbnail_timeline(OutputSpec.model_validate(
            {"type": "thumbnails", "thumbnails": {"count": n}}).thumbnails, meta).times  # type: ignore[arg-type]  # fmt: skip
        for name, build in (
            ("recast: one decode, select", lambda out, n=n: recast_plan(clip, meta, n, out)),
            ("one process, a seek per image", lambda out, t=times: seek_inputs(clip, t, out)),
            ("a process per image", lambda out, t=times: seek_processes(clip, t, out)),
        ):
            walls, peaks = [], []
            for _ in range(opts.runs):
                with tempfile.TemporaryDirectory() as d:
                    wall, peak = timed(build(Path(d)))
                walls.append(wall)
                peaks.append(peak)
            row = {
                "images": n,
                "how": name,
                "wall_s": round(statistics.median(walls), 2),
                "peak_mib": max(peaks),
            }
            rows.append(row)
            print(f"{n:>3} images  {name:<32} {row['wall_s']:>6.2f} s  {row['peak_mib']:>5} MiB", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "thumbnails.json").write_text(
        json.dumps({"clip": clip.name, "runs": opts.runs, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
