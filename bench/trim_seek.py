"""What input seeking saves when a clip is cut from late in the input.

    .venv/bin/python bench/trim_seek.py [--runs 5]

Makes a 10 s 1080p H.264 clip (2 s GOP) and cuts seconds 8–9 of it to 720p H.264 twice, in
alternating order: with the command Recast builds (`-ss`/`-t` before `-i`: decoding starts at the
keyframe before 8 s) and with the same cut as output options (every frame before 8 s decoded and
scaled, then dropped). Prints the medians and checks both outputs last 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.clips import RESULTS, make_clip  # noqa: E402
from recast.core import timeline  # noqa: E402
from recast.core.requests import Clip  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.media import probe, renditions  # noqa: E402

OUTPUT = {"type": "mp4", "video": {"codec": "h264", "resolution": "720p"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        # A keyframe every 2 s, as cameras and most encoders write them.
        src = make_clip(RESULTS / "clip-10s-1920x1080-gop60.mp4", 10, "1920x1080", gop=60)
        meta = probe.input_metadata(asyncio.run(probe.probe_raw(src)), src.stat().st_size)
        spec = OutputSpec.model_validate(OUTPUT)
        clip = timeline.resolve_clip(Clip(start=8, end=9), meta.duration_ms)
        seek = renditions.encode_plan(spec, meta, src, d / "seek.mp4", clip=clip).args
        whole = renditions.encode_plan(spec, meta, src, d / "late.mp4").args
        late = [*whole[:-1], "-ss", "8", "-t", "1", whole[-1]]
        times: dict[str, list[float]] = {"input seeking (Recast)": [], "cut after decoding": []}
        for run in range(args.runs):
            order = list(zip(times, (seek, late), strict=True))
            for name, cmd in order if run % 2 == 0 else order[::-1]:
                start = time.monotonic()
                subprocess.run(cmd, check=True, capture_output=True)
                times[name].append(time.monotonic() - start)
        for name, values in times.items():
            print(
                f"{name:24} median {statistics.median(values):.2f} s  ({', '.join(f'{v:.2f}' for v in values)})"
            )
        for f in ("seek", "late"):
            got = probe.duration_s(asyncio.run(probe.probe_raw(d / f"{f}.mp4")))
            assert abs(got - 1.0) <= 0.1, f"{f}.mp4 lasts {got} s"


if __name__ == "__main__":
    main()
