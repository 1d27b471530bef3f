"""What this installation's ffmpeg can write, asked of the ffmpeg binary itself.

The API asks before it accepts a job (an `avif` output on a machine whose ffmpeg cannot write AVIF is a
400 at submit, not a failed job later), so this lives with the other I/O of the API's layer rather than
in recast.media, whose planning modules only build commands.
"""

from __future__ import annotations

import functools
import subprocess

from recast.core.formats import IMAGE_TYPES, OutputType

FFMPEG = "ffmpeg"


@functools.cache
def avif_available() -> bool:
    """Whether this machine's ffmpeg can write AVIF (an `avif` muxer and the libaom-av1 encoder)."""
    try:
        muxers = subprocess.run([FFMPEG, "-hide_banner", "-muxers"], capture_output=True, timeout=10).stdout
        encoders = subprocess.run(
            [FFMPEG, "-hide_banner", "-encoders"], capture_output=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return can_write_avif(muxers.decode(errors="replace"), encoders.decode(errors="replace"))


def can_write_avif(muxers: str, encoders: str) -> bool:
    """From `ffmpeg -muxers` and `ffmpeg -encoders` listings."""
    has_muxer = any(line.split()[1:2] == ["avif"] for line in muxers.splitlines() if line.strip())
    has_encoder = any(line.split()[1:2] == ["libaom-av1"] for line in encoders.splitlines() if line.strip())
    return has_muxer and has_encoder


def image_formats(avif: bool) -> list[str]:
    """The image output types, in the API's order, without avif when this ffmpeg cannot write it."""
    return [t.value for t in OutputType if t in IMAGE_TYPES and (avif or t is not OutputType.avif)]
