"""H.264 vs VP9 vs AV1 (SVT-AV1): the same clip, the commands Recast builds, in one run.

    .venv/bin/python bench/codecs.py [--runs 3] [--qualities standard,economy] [--no-ssim]

Encodes a 10 s 1080p clip to 720p with each codec at each quality, through `recast.media.encode_plan`
(so with exactly Recast's encoder settings; audio off, to time the video encoders alone), and prints
per encode the median wall time, the realtime factor (media seconds per wall second), the CPU time
(less disturbed than wall time when other work shares the machine), the bytes, the SSIM against the
source scaled to 720p, and wall time, CPU time and bytes as ratios to H.264 at that quality.
Rounds rotate the order of the encodes. Results land in bench/results/codecs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
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
from recast.core import specs  # noqa: E402
from recast.core.job import InputMetadata  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.media import probe, renditions  # noqa: E402

CODECS = {"h264": "mp4", "vp9": "webm", "av1": "webm"}  # codec → the container Recast would use


def spec_for(codec: str, quality: str) -> OutputSpec:
    return OutputSpec.model_validate(
        {
            "type": CODECS[codec],
            "video": {"codec": codec, "resolution": "720p", "quality": quality},
            "audio": {"enabled": False},
        }
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def encode(spec: OutputSpec, meta: InputMetadata, src: Path, dst: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of Recast's ffmpeg command for this output. CPU time is what a
    busy machine barely changes; wall time is what a user waits on an idle one."""
    plan = renditions.encode_plan(spec, meta, src, dst)
    cpu_before, start = _children_cpu(), time.perf_counter()
    run = subprocess.run(plan.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    if run.returncode != 0:
        raise SystemExit(
            f"{spec.strategy} failed (exit {run.returncode}): {run.stderr.decode(errors='replace')[-500:]}"
        )
    return wall, cpu


def ssim(out: Path, src: Path, width: int, height: int) -> float:
    """SSIM (all planes) of the output against the source scaled to the output's size."""
    run = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(out), "-i", str(src), "-lavfi",
         f"[1:v]scale={width}:{height}:flags=bicubic,format=yuv420p[ref];[0:v]format=yuv420p[dis];[dis][ref]ssim",
         "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    found = re.findall(r"All:([0-9.]+)", run.stderr)
    return float(found[-1]) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--qualities", default="standard,economy")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--no-ssim", action="store_true")
    args = parser.parse_args()
    qualities = [q.strip() for q in args.qualities.split(",") if q.strip()]

    src = make_clip(RESULTS / f"clip-{args.seconds}s-1920x1080.mp4", args.seconds, "1920x1080")
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(src)), src.stat().st_size)
    seconds = meta.duration_ms / 1000
    encodes = [(codec, q) for q in qualities for codec in CODECS]
    walls: dict[tuple[str, str], list[float]] = {e: [] for e in encodes}
    cpus: dict[tuple[str, str], list[float]] = {e: [] for e in encodes}
    sizes: dict[tuple[str, str], int] = {}
    scores: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            shift = run % len(encodes)
            for codec, quality in encodes[shift:] + encodes[:shift]:
                spec = spec_for(codec, quality)
                dst = Path(tmp) / f"{codec}-{quality}.{spec.type.value}"
                wall, cpu = encode(spec, meta, src, dst)
                walls[(codec, quality)].append(wall)
                cpus[(codec, quality)].append(cpu)
                sizes[(codec, quality)] = dst.stat().st_size
                print(
                    f"round {run + 1}: {codec:>4} {quality:<8} {wall:6.2f} s wall {cpu:6.2f} s CPU",
                    flush=True,
                )
        if not args.no_ssim:
            for codec, quality in encodes:
                spec = spec_for(codec, quality)
                w, h = specs.target_size(spec.video[0], meta.width or 0, meta.height or 0)
                scores[(codec, quality)] = ssim(Path(tmp) / f"{codec}-{quality}.{spec.type.value}", src, w, h)

    rows: list[dict[str, Any]] = []
    print(f"\n{seconds:g} s 1920x1080 testsrc2 → 720p, median of {args.runs} runs, audio off")
    print(
        f"{'codec':<5} {'quality':<8} {'wall':>7} {'realtime':>9} {'CPU':>7} {'bytes':>10} {'ssim':>7} "
        f"{'wall/h264':>10} {'CPU/h264':>9} {'bytes/h264':>11}"
    )
    for codec, quality in encodes:
        wall, cpu = statistics.median(walls[(codec, quality)]), statistics.median(cpus[(codec, quality)])
        base_wall = statistics.median(walls[("h264", quality)])
        base_cpu = statistics.median(cpus[("h264", quality)])
        row = {
            "codec": codec,
            "quality": quality,
            "wall_s": round(wall, 3),
            "walls_s": [round(w, 3) for w in walls[(codec, quality)]],
            "realtime_factor": round(seconds / wall, 2),
            "cpu_s": round(cpu, 3),
            "bytes": sizes[(codec, quality)],
            "ssim": round(scores[(codec, quality)], 4) if scores else None,
            "wall_vs_h264": round(wall / base_wall, 2),
            "cpu_vs_h264": round(cpu / base_cpu, 2),
            "bytes_vs_h264": round(sizes[(codec, quality)] / sizes[("h264", quality)], 3),
        }
        rows.append(row)
        score = f"{row['ssim']:.4f}" if row["ssim"] is not None else "-"
        print(
            f"{codec:<5} {quality:<8} {wall:6.2f}s {row['realtime_factor']:8.2f}x {cpu:6.2f}s {row['bytes']:>10,} "
            f"{score:>7} {row['wall_vs_h264']:9.2f}x {row['cpu_vs_h264']:8.2f}x {row['bytes_vs_h264']:10.3f}x"
        )
    load = os.getloadavg()[0]
    print(
        f"load average at the end: {load:.2f} (on {os.cpu_count()} CPUs): wall times are only as quiet as that"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "codecs.json").write_text(
        json.dumps({"seconds": seconds, "runs": args.runs, "load_average": load, "rows": rows}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
