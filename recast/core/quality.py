"""Measured quality: the metrics an output may ask for (`"metrics": ["ssim", "psnr"]`) and what it
reports (`outputs[].quality`, one entry per video variant: per rung for hls/dash). Also how an output
was made (`strategy`): encoded, or its input's streams copied into the new container (remux).

Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Metric(StrEnum):
    """A full-reference quality metric, against the source scaled to the output's frame.

    VMAF is not offered: it needs an ffmpeg built with libvmaf, and Debian's has none."""

    ssim = "ssim"
    psnr = "psnr"


class MetricSummary(BaseModel):
    mean: float = Field(description="The mean of the per-frame values.")
    min: float = Field(description="The worst frame's value.")


class RungQuality(BaseModel):
    """The measured quality of one video variant (a single file's video, or one rung of a ladder)."""

    width: int
    height: int
    frames: int = Field(description="Frames compared.")
    ssim: MetricSummary | None = Field(
        default=None, description="SSIM of all planes (0–1; 1 is identical), per frame: mean and worst."
    )
    psnr: MetricSummary | None = Field(
        default=None,
        description="PSNR in dB of all planes (higher is closer; an identical frame counts as 100), "
        "per frame: mean and worst.",
    )


# The word `strategy` starts with when an output was remuxed rather than encoded: `remux-mp4-h264`.
REMUX = "remux"


def remux_strategy(strategy: str) -> str:
    """`video-mp4-h264` (what OutputSpec.strategy calls an encode) → `remux-mp4-h264`."""
    kind, _, rest = strategy.partition("-")
    return f"{REMUX}-{rest}" if kind == "video" else f"{REMUX}-{strategy}"


def is_remux(strategy: str | None) -> bool:
    return bool(strategy) and str(strategy).startswith(REMUX + "-")
