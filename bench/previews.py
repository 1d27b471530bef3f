"""What watermarks, animated previews and waveforms cost, measured on the ffmpeg commands Recast builds
(no stack: the API and Temporal add the same fixed overhead to every output, bench/encode_overhead.py).

    .venv/bin/python -m bench.previews            # median CPU seconds of 3 runs each

- watermark: a 10 s 1080p clip → 720p H.264 (standard) with and without a watermark (a 400x200 PNG at
  15 % of the width, half opacity): the overlay's share of the encode;
- previews: a 3 s gif (palette pass) and a 3 s animated webp, 320 wide at 10 fps, from that clip;
- waveform: the PNG and PCM of a 10-minute AAC tone (one ffmpeg run), then the peaks JSON reduced in
  Python from the PCM.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.clips import RESULTS, make_clip
from recast.core.specs import OutputSpec
from recast.media import previews, probe, renditions, waveform


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children: on a shared machine the
    work done, which wall time under contention is not."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _median(run: Callable[[], object], n: int = 3) -> float:
    """Median CPU seconds of `n` runs."""
    times = []
    for _ in range(n):
        started = _cpu()
        run()
        times.append(_cpu() - started)
    return statistics.median(times)


def _ffmpeg(args: list[str]) -> Callable[[], object]:
    return lambda: subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    clip = make_clip(RESULTS / "bench_1080p_10s.mp4", 10, "1920x1080")
    meta = probe.input_metadata(asyncio.run(probe.probe_raw(clip)), clip.stat().st_size)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        logo = d / "logo.png"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=400x200",
                        "-frames:v", "1", str(logo)], check=True)  # fmt: skip
        plain = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264", "resolution": "720p"}})
        marked = OutputSpec.model_validate(
            {**plain.model_dump(), "watermark": {"image": "upload://bench", "opacity": 0.5}}
        )
        base = renditions.encode_plan(plain, meta, clip, d / "a.mp4")
        over = renditions.encode_plan(marked, meta, clip, d / "b.mp4", watermark_image=logo)
        t_plain, t_mark = _median(_ffmpeg(base.args)), _median(_ffmpeg(over.args))
        print(f"720p H.264 of 10 s 1080p: {t_plain:.2f} CPU s; with a watermark {t_mark:.2f} CPU s "
              f"({100 * (t_mark / t_plain - 1):+.1f} %)")  # fmt: skip

        for kind in ("gif", "webp"):
            spec = OutputSpec.model_validate({"type": kind, "animation": {}})
            dst = d / f"p.{kind}"
            plan = previews.animation_plan(spec, meta, clip, dst)
            took = _median(_ffmpeg(plan.args))
            print(
                f"3 s {kind} preview, 320 wide, 10 fps: {took:.2f} CPU s, {dst.stat().st_size / 1024:.0f} KiB"
            )

        tone = d / "tone.m4a"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=600",
                        "-c:a", "aac", str(tone)], check=True)  # fmt: skip
        tmeta = probe.input_metadata(asyncio.run(probe.probe_raw(tone)), tone.stat().st_size)
        folder = d / "wf"
        folder.mkdir()
        wplan = waveform.waveform_plan(
            OutputSpec.model_validate({"type": "waveform"}), tmeta, tone, folder, d / "peaks.pcm"
        )
        took = _median(_ffmpeg(wplan.args))
        reduce = _median(lambda: waveform.write_peaks(wplan, folder))
        print(f"waveform of 10 min audio: ffmpeg (PNG + PCM) {took:.2f} CPU s, peaks JSON {reduce:.2f} CPU s")


if __name__ == "__main__":
    main()
