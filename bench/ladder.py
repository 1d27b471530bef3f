"""An HLS ladder two ways, on the same clip in one run: one ffmpeg process decoding the input once and
feeding every rung through a `split` filter (what Recast does), against one process per rung.

    .venv/bin/python bench/ladder.py [--runs 3] [--seconds 10]

The ladder is 1080p/720p/480p H.264 (quality `standard`, 6 s segments) from a generated 1080p clip.
"Per rung" runs the same command Recast builds, once per rung with that rung alone (the audio in the
first), sequentially and then all at once. Rounds rotate the order. Prints every round, the medians,
and each way's time and peak memory as a ratio of the sequential per-rung way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
from recast.core.specs import OutputSpec  # noqa: E402
from recast.media import probe, streaming  # noqa: E402

RUNGS = ("1080p", "720p", "480p")


def ladder(resolutions: tuple[str, ...], audio: bool) -> OutputSpec:
    return OutputSpec.model_validate(
        {
            "type": "hls",
            "video": [{"codec": "h264", "resolution": r, "quality": "standard"} for r in resolutions],
            "audio": {"enabled": audio},
        }
    )


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def reap(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the process; its peak RSS in KiB (from wait4, so per process, not per run)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return usage.ru_maxrss


def commands(way: str, clip: Path, meta: InputMetadata, work: Path) -> list[list[str]]:
    shutil.rmtree(work, ignore_errors=True)
    if way == "split":
        (work / "all").mkdir(parents=True)
        return [streaming.ladder_plan(ladder(RUNGS, True), meta, clip, work / "all").args]
    out = []
    for i, rung in enumerate(RUNGS):
        (work / rung).mkdir(parents=True)
        out.append(streaming.ladder_plan(ladder((rung,), i == 0), meta, clip, work / rung).args)
    return out


def run(way: str, clip: Path, meta: InputMetadata, work: Path) -> tuple[float, int]:
    """(seconds, peak KiB: the sum of the processes alive together)."""
    cmds = commands(way, clip, meta, work)
    began = time.perf_counter()
    if way == "parallel":
        procs = [start(c) for c in cmds]
        peak = sum(reap(p) for p in procs)
    else:
        peak = max(reap(start(c)) for c in cmds)
    return time.perf_counter() - began, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    opts = parser.parse_args()
    clip = make_clip(RESULTS / f"clip-{opts.seconds}s-1920x1080.mp4", opts.seconds, "1920x1080")
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    ways = ["split", "sequential", "parallel"]
    times: dict[str, list[float]] = {w: [] for w in ways}
    peaks: dict[str, list[int]] = {w: [] for w in ways}
    with tempfile.TemporaryDirectory(prefix="recast-ladder-") as tmp:
        for r in range(opts.runs):
            order = ways[r % 3 :] + ways[: r % 3]
            row = []
            for way in order:
                seconds, peak = run(way, clip, meta, Path(tmp) / way)
                times[way].append(seconds)
                peaks[way].append(peak)
                row.append(f"{way} {seconds:.2f}s {peak / 1024:.0f} MiB")
            print(f"round {r + 1}: " + ", ".join(row), flush=True)
    med = {w: statistics.median(times[w]) for w in ways}
    # Per-round ratios too: the machine's load drifts between rounds, and within one round all three
    # ways run under about the same load.
    per_round = {
        w: statistics.median(t / s for t, s in zip(times[w], times["sequential"], strict=True)) for w in ways
    }
    mem = {w: statistics.median(peaks[w]) / 1024 for w in ways}
    base = med["sequential"]
    print(
        f"\n3-rung H.264 ladder (1080/720/480) from a {opts.seconds} s 1080p clip, medians of {opts.runs} rounds:"
    )
    for way, label in (
        ("split", "one process, split filter (decode once)"),
        ("sequential", "one process per rung, one after another"),
        ("parallel", "one process per rung, all at once"),
    ):
        print(
            f"  {label:<42} {med[way]:6.2f} s  {med[way] / base:.2f}× (per round {per_round[way]:.2f}×)"
            f"  peak {mem[way]:.0f} MiB"
        )
    result: dict[str, Any] = {
        "seconds": med,
        "ratio_to_sequential": {w: med[w] / base for w in ways},
        "median_per_round_ratio": per_round,
        "peak_mib": mem,
        "runs": opts.runs,
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ladder.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
