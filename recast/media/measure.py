"""Measured quality (`"metrics": ["ssim", "psnr"]`): an output's video compared, frame by frame, with the
source as the encoder got it — the same clip or join, scaled (or fitted) to the output's frame, at the
output's frame rate, in yuv420p. The reference is built by the very functions that fed the encoder
(renditions.source_streams, streaming.rung_picture), so frames line up one for one after a trim, a
join or a lowered frame rate; both sides start at timestamp 0 and the comparison stops at the shorter.

One ffmpeg process per output: the source decoded once (split for every rung of a ladder), each
rendition decoded once, ffmpeg's `ssim` and `psnr` filters writing per-frame stats files that
`read_stats` turns into a mean and a minimum. VMAF would need libvmaf, which Debian's ffmpeg lacks.
What it costs against the encode: `bench/verify_cost.py` (docs/benchmarks.md, "Measured quality").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core import timeline
from recast.core.formats import Fit
from recast.core.job import InputMetadata
from recast.core.quality import Metric, MetricSummary, RungQuality
from recast.core.requests import Clip
from recast.media import renditions, streaming
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS

# An identical frame has an infinite PSNR; it counts as this many dB (so a mean stays a number).
PSNR_CAP_DB = 100.0


@dataclass(frozen=True)
class Rendition:
    """One video to measure: the file (a single output, or a rung's segments joined), and its frame."""

    path: Path
    width: int
    height: int


@dataclass(frozen=True)
class MeasurePlan:
    args: list[str]
    renditions: list[Rendition]
    metrics: list[Metric]
    stats: list[dict[Metric, Path]]  # per rendition: each metric's per-frame stats file
    duration_s: float  # what the compared video lasts, for progress


def _stats_path(workdir: Path, metric: Metric, index: int) -> Path:
    if ":" in str(workdir) or "'" in str(workdir):
        raise ValueError(f"stats folder {workdir} must not contain ':' or quotes (filter arguments)")
    return workdir / f"{metric.value}-{index}.log"


def _compare(
    renditions_: Sequence[Rendition], references: Sequence[Any], metrics: Sequence[Metric], workdir: Path
) -> tuple[list[Any], list[dict[Metric, Path]]]:
    """Each rendition against its reference, every metric chained (each filter passes its first input on)."""
    outs, stats = [], []
    for i, (rendition, reference) in enumerate(zip(renditions_, references, strict=True)):
        shown = ffmpeg.input(f"file:{rendition.path}", **INPUT_OPTIONS).video
        shown = shown.filter("format", "yuv420p").filter("setpts", "PTS-STARTPTS")
        reference = reference.filter("setpts", "PTS-STARTPTS")
        refs = reference.filter_multi_output("split", len(metrics)) if len(metrics) > 1 else None
        files: dict[Metric, Path] = {}
        for n, metric in enumerate(metrics):
            files[metric] = _stats_path(workdir, metric, i)
            ref = refs.stream(n) if refs is not None else reference
            # shortest/repeatlast: compare frame pairs only, never a repeated last frame of the longer side.
            shown = ffmpeg.filter(
                [shown, ref], metric.value, stats_file=str(files[metric]), shortest=1, repeatlast=0
            )
        outs.append(shown)
        stats.append(files)
    return outs, stats


def file_plan(
    output: Path,
    plan: renditions.EncodePlan,
    fit: Fit,
    meta: InputMetadata,
    src: Path,
    metrics: Sequence[Metric],
    workdir: Path,
    threads: int = 0,
    *,
    parts: Sequence[tuple[Path, InputMetadata]] = (),
    clip: Clip | None = None,
) -> MeasurePlan:
    """Measure a single-file output made by `plan` (renditions.encode_plan, same src, parts and clip)."""
    assert plan.width and plan.height
    size = (plan.width, plan.height)
    reference, _ = renditions.source_streams(src, meta, parts, clip, size, plan.framerate, None, fit)
    rendition = Rendition(output, plan.width, plan.height)
    outs, stats = _compare([rendition], [reference], metrics, workdir)
    out = ffmpeg.output(*outs, "-", format="null", threads=threads)
    duration = plan.duration_s if plan.duration_s is not None else meta.duration_ms / 1000
    return MeasurePlan([FFMPEG, *GLOBAL_ARGS, *out.get_args()], [rendition], list(metrics), stats, duration)


def ladder_measure_plan(
    rungs: Sequence[tuple[streaming.Rung, Path]],
    plan: streaming.LadderPlan,
    meta: InputMetadata,
    src: Path,
    metrics: Sequence[Metric],
    workdir: Path,
    threads: int = 0,
    *,
    parts: Sequence[tuple[Path, InputMetadata]] = (),
    clip: Clip | None = None,
) -> MeasurePlan:
    """Measure every rung of a ladder (each rung's segments joined into one file, `rungs`) in one
    process: the source decoded once, split, each branch made as that rung's encoder got it."""
    assert meta.width and meta.height
    joined = len(parts) > 1
    join_fps = timeline.join_framerate([m for _, m in parts]) if joined else None
    decoded, _ = renditions.source_streams(src, meta, parts, clip, (meta.width, meta.height), join_fps, None)
    split = decoded.filter_multi_output("split", len(rungs)) if len(rungs) > 1 else None
    references = [
        streaming.rung_picture(split.stream(i) if split is not None else decoded, rung, meta)
        for i, (rung, _) in enumerate(rungs)
    ]
    items = [Rendition(path, rung.width, rung.height) for rung, path in rungs]
    outs, stats = _compare(items, references, metrics, workdir)
    out = ffmpeg.output(*outs, "-", format="null", threads=threads)
    return MeasurePlan([FFMPEG, *GLOBAL_ARGS, *out.get_args()], items, list(metrics), stats, plan.duration_s)


_VALUE = {
    Metric.ssim: re.compile(r"\bAll:([0-9.]+|inf)"),
    Metric.psnr: re.compile(r"\bpsnr_avg:([0-9.]+|inf)"),
}


def read_stats(metric: Metric, text: str) -> list[float]:
    """Per-frame values of one stats file: SSIM's `All` (every plane), PSNR's `psnr_avg` (dB; an
    identical frame's `inf` counts as PSNR_CAP_DB)."""
    values = []
    for line in text.splitlines():
        match = _VALUE[metric].search(line)
        if match:
            value = float(match.group(1))
            values.append(PSNR_CAP_DB if math.isinf(value) else min(value, PSNR_CAP_DB))
    return values


def summary(values: Sequence[float], digits: int) -> MetricSummary:
    return MetricSummary(mean=round(sum(values) / len(values), digits), min=round(min(values), digits))


def results(plan: MeasurePlan) -> list[RungQuality]:
    """The report of a finished measuring run, one entry per rendition; a rendition of which no frame
    could be compared raises ValueError (the reference and the output do not overlap at all)."""
    reports = []
    for rendition, files in zip(plan.renditions, plan.stats, strict=True):
        values = {m: read_stats(m, files[m].read_text()) for m in plan.metrics}
        frames = min(len(v) for v in values.values())
        if frames == 0:
            raise ValueError(f"no frame of the {rendition.width}x{rendition.height} video could be compared")
        reports.append(
            RungQuality(
                width=rendition.width,
                height=rendition.height,
                frames=frames,
                ssim=summary(values[Metric.ssim], 5) if Metric.ssim in values else None,
                psnr=summary(values[Metric.psnr], 2) if Metric.psnr in values else None,
            )
        )
    return reports
