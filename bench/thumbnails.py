"""Thumbnail sets: one decode with a `select` filter vs a seek per picture, both in one ffmpeg process.

    .venv/bin/python bench/thumbnails.py [--runs 3]

On 720p H.264 clips (x264 `fast`, a keyframe every 250 frames), N evenly spaced 320-wide JPEGs made
three ways: recast/media/thumbnails.py's two plans — `decode` (the input decoded once up to the last picture,
`select` picks the frames) and `seek` (one input per picture seeked with `-ss`, joined by `concat`) —
and, for reference, N separate ffmpeg processes with one seek each. Marks the plan choose_strategy
picks. Prints medians of wall time and peak memory; writes bench/results/thumbnails.json.
"""

from __future__ import annotations

import argparse
import asyncio
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

from bench.clips import RESULTS, make_clip  # noqa: E402
from recast.core.job import InputMetadata  # noqa: E402
from recast.core.specs import OutputSpec, ThumbnailsSpec  # noqa: E402
from recast.media import probe, thumbnails  # noqa: E402

GNU_TIME = shutil.which("time") or "/usr/bin/time"


def timed(commands: list[list[str]]) -> tuple[float, int]:
    """Run the commands one after the other: (wall seconds, highest peak RSS in MiB)."""
    peak = 0
    start = time.perf_counter()
    for args in commands:
        run = subprocess.run([GNU_TIME, "-f", "%M", *args], capture_output=True, check=True)
        peak = max(peak, int(run.stderr.decode().strip().splitlines()[-1]))
    return time.perf_counter() - start, peak // 1024


def plan(clip: Path, meta: InputMetadata, n: int, out: Path, strategy: str) -> list[list[str]]:
    spec = OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"count": n, "width": 320}})
    return [thumbnails.thumbnails_plan(spec, meta, clip, out, strategy).args]


def processes(clip: Path, times: list[float], out: Path) -> list[list[str]]:
    return [
        ["ffmpeg", "-v", "error", "-y", "-ss", f"{t:.3f}", "-i", str(clip), "-frames:v", "1",
         "-vf", "scale=320:-2", "-q:v", "6", str(out / f"p{i}.jpg")]
        for i, t in enumerate(times)
    ]  # fmt: skip


CASES = ((60, 10), (60, 50), (180, 10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for seconds, n in CASES:
        clip = make_clip(RESULTS / f"clip-{seconds}s-1280x720.mp4", seconds, "1280x720", audio=False)
        meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
        times = thumbnails.thumbnail_timeline(ThumbnailsSpec(count=n), meta).times
        picked = thumbnails.choose_strategy(n, min(seconds, max(times) + 1))
        for name in ("decode", "seek", "a process per picture"):
            walls, peaks = [], []
            for _ in range(opts.runs):
                with tempfile.TemporaryDirectory() as d:
                    out = Path(d)
                    cmds = (
                        processes(clip, times, out)
                        if name.startswith("a ")
                        else plan(clip, meta, n, out, name)
                    )
                    wall, peak = timed(cmds)
                walls.append(wall)
                peaks.append(peak)
            row = {
                "clip_s": seconds,
                "images": n,
                "how": name,
                "picked": name == picked,
                "wall_s": round(statistics.median(walls), 2),
                "peak_mib": max(peaks),
            }
            rows.append(row)
            mark = "  <- picked" if row["picked"] else ""
            print(
                f"{seconds:>4} s {n:>3} pictures  {name:<22} {row['wall_s']:>6.2f} s {row['peak_mib']:>5} MiB{mark}"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "thumbnails.json").write_text(json.dumps({"runs": opts.runs, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
