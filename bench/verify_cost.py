"""What the full-decode verification and the quality metrics cost against the encode they follow.

    .venv/bin/python bench/verify_cost.py [--runs 5]

The encode of bench/encode_overhead.py (a generated 10 s 1080p H.264 clip → 720p H.264 `standard` +
AAC, the exact command encode_output runs), then, on its output, what encode_output runs after it:
the full decode (recast/media/verify.py, `full_decode`) and the `ssim`+`psnr` pass
(recast/media/measure.py). Each round runs the three in that order; wall clock and CPU (user + system
of the child processes) per step. Also what verifying adds to the output step as encode_output runs it,
the decode beside the probe check: (probe ∥ decode) − probe alone. Prints the medians and the median per-round ratios verify/encode
(target < 10 %) and metrics/encode. CPU ratios are steadier than wall ratios on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.clips import RESULTS, make_clip  # noqa: E402
from recast.core.quality import Metric  # noqa: E402
from recast.core.specs import OutputSpec  # noqa: E402
from recast.media import measure, probe, renditions, verify  # noqa: E402

OUTPUT = {"type": "mp4", "video": {"codec": "h264", "resolution": "720p", "quality": "standard"}}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(args: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command run to the end."""
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start, children_cpu() - cpu


def decode_timed(path: Path) -> tuple[float, float, verify.DecodeReport]:
    cpu, start = children_cpu(), time.perf_counter()
    report = asyncio.run(verify.full_decode(path))
    return time.perf_counter() - start, children_cpu() - cpu, report


async def probe_then_decode(path: Path) -> tuple[float, float]:
    """(seconds of the probe alone, seconds of the probe with the full decode beside it), as
    encode_output runs them (activities/finishing.py, `checked`)."""
    start = time.perf_counter()
    await probe.probe_raw(path)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(probe.probe_raw(path), verify.full_decode(path))
    return alone, time.perf_counter() - start


def show(name: str, values: list[float], unit: str = "s") -> str:
    return (
        f"{name:28} median {statistics.median(values):.3f} {unit}  ({', '.join(f'{v:.3f}' for v in values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    src = make_clip(RESULTS / "clip-10s-1920x1080.mp4", 10, "1920x1080")
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(src)), src.stat().st_size)
    spec = OutputSpec.model_validate(OUTPUT)
    rows: dict[str, list[float]] = {
        k: []
        for k in ("encode wall", "encode cpu", "verify wall", "verify cpu", "metrics wall", "metrics cpu")
    }
    ratios: dict[str, list[float]] = {k: [] for k in ("verify/encode wall", "verify/encode cpu",
                                                       "added by verify (beside probe)/encode wall",
                                                       "metrics/encode wall", "metrics/encode cpu")}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for _ in range(args.runs):
            out = d / "out.mp4"
            plan = renditions.encode_plan(spec, meta, src, out)
            enc_wall, enc_cpu = run_timed(plan.args)
            ver_wall, ver_cpu, report = decode_timed(out)
            verify.check_decode(report, duration_s=10.0, framerate=30)
            alone, beside = asyncio.run(probe_then_decode(out))
            ratios["added by verify (beside probe)/encode wall"].append((beside - alone) / enc_wall)
            mplan = measure.file_plan(out, plan, spec.video[0].fit, meta, src, [Metric.ssim, Metric.psnr], d)
            met_wall, met_cpu = run_timed(mplan.args)
            quality = measure.results(mplan)[0]
            for key, value in zip(
                rows, (enc_wall, enc_cpu, ver_wall, ver_cpu, met_wall, met_cpu), strict=True
            ):
                rows[key].append(value)
            ratios["verify/encode wall"].append(ver_wall / enc_wall)
            ratios["verify/encode cpu"].append(ver_cpu / enc_cpu)
            ratios["metrics/encode wall"].append(met_wall / enc_wall)
            ratios["metrics/encode cpu"].append(met_cpu / enc_cpu)
        print(f"{report.video_frames} frames decoded; quality {quality.model_dump(exclude_none=True)}")
    for name, values in rows.items():
        print(show(name, values))
    for name, values in ratios.items():
        print(show(name, [100 * v for v in values], "%"))


if __name__ == "__main__":
    main()
