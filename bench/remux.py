"""Remux vs encode for an input that already is what its output asks.

    .venv/bin/python bench/remux.py [--runs 5]

A generated 10 s 1080p input as an `{"type": "mp4", "video": {"codec": "h264"}}` output asks it
(H.264 High yuv420p 30 fps at ~4 Mb/s, AAC stereo 48 kHz 128 kb/s, moov at the end), checked by
`remux.why_encode`. Each round, in alternating order: the encode that output would get without remux
(renditions.encode_plan, what encode_output ran before) and the copy encode_output now runs
(remux.remux_args). Both times are the ffmpeg run alone; the whole-output figure adds what both are
followed by (probe check and the full decode of recast/media/verify.py, measured once per round).
Prints medians and the median per-round ratio encode/remux (target ≥ 20×).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.clips import RESULTS  # noqa: E402
from bench.verify_cost import run_timed, show  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.media import probe, remux, renditions, verify  # noqa: E402

OUTPUT = {"type": "mp4", "video": {"codec": "h264"}}


def web_clip(path: Path) -> Path:
    """The input: browser-ready already (made once)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y",
             "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=10",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
             "-ac", "2", "-c:a", "aac", "-b:a", "128k",
             "-c:v", "libx264", "-preset", "fast", "-profile:v", "high", "-b:v", "4000k",
             "-pix_fmt", "yuv420p", "-shortest", str(path)],
            check=True,
        )  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    src = web_clip(RESULTS / "web-10s-1920x1080.mp4")
    data = asyncio.run(probe.probe_raw(src))
    meta = probe.input_metadata(data, src.stat().st_size)
    spec = OutputSpec.model_validate(OUTPUT)
    why = remux.why_encode(spec, meta, data)
    assert why is None, f"the bench input would be encoded: {why}"
    times: dict[str, list[float]] = {"encode": [], "remux": [], "checks after either": []}
    ratios: list[float] = []
    whole: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        encode = renditions.encode_plan(spec, meta, src, d / "encoded.mp4")
        copy = remux.remux_args(spec, meta, src, d / "copied.mp4")
        for run in range(args.runs):
            order = [("encode", encode.args), ("remux", copy)]
            got: dict[str, float] = {}
            for name, cmd in order if run % 2 == 0 else order[::-1]:
                got[name] = run_timed(cmd)[0]
                times[name].append(got[name])
            start = time.perf_counter()
            renditions.check_output(asyncio.run(probe.probe_raw(d / "copied.mp4")), spec, encode, meta)
            verify.check_decode(
                asyncio.run(verify.full_decode(d / "copied.mp4")), duration_s=10, framerate=30
            )
            checks = time.perf_counter() - start
            times["checks after either"].append(checks)
            ratios.append(got["encode"] / got["remux"])
            whole.append((got["encode"] + checks) / (got["remux"] + checks))
    for name, values in times.items():
        print(show(name, values))
    print(show("encode / remux (ffmpeg)", ratios, "x"))
    print(show("encode / remux (+ checks)", whole, "x"))


if __name__ == "__main__":
    main()
