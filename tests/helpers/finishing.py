"""Independent looks at finished outputs for the loudness and captions tests: ffmpeg's ebur128 filter
(not the loudnorm analysis Recast itself uses), the md5 of decoded audio, one decoded frame, and an
encode activity run in Temporal's ActivityEnvironment with the job's captions."""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from temporalio.testing import ActivityEnvironment

from activities.deps import Deps
from activities.encode import EncodeActivities
from activities.stream import StreamActivities
from recast.core.captions import CaptionTrack
from recast.core.payloads import EncodeResult
from tests.helpers.activities import place_input, request


@dataclass(frozen=True)
class Ebur128:
    integrated_lufs: float
    true_peak_db: float


def ebur128(path: Path) -> Ebur128:
    """Integrated loudness and true peak of a file's audio, by ffmpeg's ebur128 filter (peak=true)."""
    err = subprocess.run(
        [
            "ffmpeg",
            "-nostats",
            "-hide_banner",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return Ebur128(float(integrated.group(1)), float(peak.group(1)))


def audio_md5(path: Path) -> str:
    """md5 of the decoded audio samples (ffmpeg's md5 muxer)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "md5", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip()


def frame_at(path: Path, seconds: float, dest: Path) -> Image.Image:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(seconds), "-i", str(path), "-frames:v", "1", str(dest)],
        check=True,
    )
    return Image.open(dest).convert("RGB")


def joined_audio(package: Path, init: str | None, segments: list[str], dest: Path) -> Path:
    """A package's audio rendition as one fragmented MP4: its init segment and every media segment."""
    with dest.open("wb") as fh:
        for name in ([init] if init else []) + segments:
            fh.write((package / name).read_bytes())
    return dest


def run_output(
    deps: Deps,
    src: Path,
    spec: dict[str, Any],
    job_id: str,
    captions: list[dict[str, Any]] | None = None,
) -> tuple[EncodeResult, Path]:
    """Make one output of `src` with its activity (encode_output, or package_stream for hls/dash);
    the result and where it is stored (the file, or the package folder)."""
    key = f"acme/jobs/{job_id}/input/{src.name}"
    place_input(deps, src, key)
    req = request(deps, src, spec, job_id)
    req.input_key = key
    req.captions = [CaptionTrack.model_validate(c) for c in captions or []]
    activities = StreamActivities(deps).package_stream if spec["type"] in ("hls", "dash") else None
    run = activities or EncodeActivities(deps).encode_output
    result = asyncio.run(ActivityEnvironment().run(run, req))
    stored = deps.storage.local_path(result.storage_key)
    assert stored is not None
    return result, stored
