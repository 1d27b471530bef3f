"""Background removal with ffmpeg: find a solid background's colour, key it out, and check the result.

Detection samples a few frames spread over the input (or its clip), shrunk to a small grid, and reads
the pixels of the grid's border ring, where a background shows around a subject: the most common
colour there (in coarse buckets, so compression noise and gradients fall into one) wins, averaged over
its bucket. Keying is ffmpeg's `colorkey` (RGB distance — `chromakey` compares only chroma, so on a
white or grey backdrop it would also key out every grey in the subject), then the frame is either kept
with its alpha (`yuva420p`, which libvpx-vp9 writes as WebM's alpha channel) or split into colour and
`alphaextract`'s mask, `vstack`ed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.background import BackgroundLayout, BackgroundSpec, RgbColor
from recast.core.requests import Clip
from recast.media.tools import FFMPEG, INPUT_OPTIONS, MediaError

GRID_W, GRID_H = 32, 24  # each sampled frame shrunk to this many pixels
RING = 2  # border pixels of the grid that are read
SAMPLES = 8  # frames sampled over the input
BUCKET = 16  # colour bucket width per channel (8-bit values)
MIN_SHARE = 0.3  # the dominant bucket must hold this share of the border pixels to be a background


async def detect_color(src: Path, duration_s: float, clip: Clip | None = None) -> RgbColor:
    """The dominant colour of the frame borders of `src` (within `clip`); `no-solid-background` when
    no colour dominates them (nothing solid to key out: give `color` to force one).

    One ffmpeg process reads SAMPLES frames, each at its own fast seek (the input opened once per
    sample), shrunk and joined by the concat filter: a long input is never decoded whole."""
    start = clip.start if clip else 0.0
    end = clip.end if clip and clip.end is not None else duration_s
    span = max(0.0, end - start)
    times = [start + span * (i + 0.5) / SAMPLES for i in range(SAMPLES)] if span > 0 else [start]
    whitelist = [arg for k, v in INPUT_OPTIONS.items() for arg in (f"-{k}", v)]
    inputs = [a for t in times for a in (*whitelist, "-ss", f"{t:.6f}", "-i", f"file:{src}")]
    shrink = f"scale={GRID_W}:{GRID_H}:flags=area,format=rgb24,setsar=1"
    chains = [f"[{i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,{shrink}[s{i}]" for i in range(len(times))]
    joined = "".join(f"[s{i}]" for i in range(len(times)))
    graph = ";".join([*chains, f"{joined}concat=n={len(times)}:v=1:a=0[out]"])
    args = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", *inputs, "-filter_complex", graph]
    args += ["-map", "[out]", "-f", "rawvideo", "-"]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        raise
    if proc.returncode != 0 or not out:
        detail = err.decode(errors="replace").strip().splitlines()
        raise MediaError(
            "encode-failed",
            "could not sample the input's frames to find its background"
            + (f": {detail[-1][:200]}" if detail else ""),
        )
    color = dominant_border_color(out, GRID_W, GRID_H)
    if color is None:
        raise MediaError(
            "no-solid-background",
            "no single colour dominates the frame borders, so there is no solid background to detect; "
            "give background.color (#RRGGBB) to key out a colour anyway",
        )
    return color


def dominant_border_color(raw: bytes, width: int, height: int) -> RgbColor | None:
    """The most common colour of the border ring of each rgb24 frame in `raw`, or None if none holds
    MIN_SHARE of the ring's pixels."""
    frame = width * height * 3
    pixels: list[tuple[int, int, int]] = []
    for offset in range(0, len(raw) - frame + 1, frame):
        for y in range(height):
            for x in range(width):
                if RING <= x < width - RING and RING <= y < height - RING:
                    continue
                i = offset + (y * width + x) * 3
                pixels.append((raw[i], raw[i + 1], raw[i + 2]))
    if not pixels:
        return None
    buckets = Counter((r // BUCKET, g // BUCKET, b // BUCKET) for r, g, b in pixels)
    best, count = buckets.most_common(1)[0]
    if count < MIN_SHARE * len(pixels):
        return None
    members = [p for p in pixels if (p[0] // BUCKET, p[1] // BUCKET, p[2] // BUCKET) == best]
    r, g, b = (round(sum(p[c] for p in members) / len(members)) for c in range(3))
    return RgbColor.of(r, g, b)


def keyed(video: Any, spec: BackgroundSpec, color: RgbColor) -> Any:
    """`video` (an ffmpeg-python stream) with `color` keyed out: with an alpha channel (`yuva420p`), or
    for the stacked layout the colour picture above its alpha mask (`yuv420p`, twice as tall)."""
    rgba = video.filter(
        "colorkey", color=f"0x{color.hex[1:]}", similarity=spec.similarity, blend=spec.blend
    ).filter("format", "yuva420p")
    if spec.layout is BackgroundLayout.alpha:
        return rgba
    split = rgba.filter_multi_output("split")
    picture = split[0].filter("format", "yuv420p")
    mask = split[1].filter("alphaextract").filter("format", "yuv420p")
    return ffmpeg.filter([picture, mask], "vstack")


def frame_height(spec: BackgroundSpec | None, height: int) -> int:
    """The height of the encoded frame for a picture `height` tall."""
    return height * 2 if spec is not None and spec.layout is BackgroundLayout.stacked else height


def check_alpha(data: dict[str, Any], spec: BackgroundSpec) -> None:
    """An alpha-layout output must say it carries alpha (WebM's `alpha_mode` on the VP9 track), or
    players show the keyed-out background as black."""
    if spec.layout is not BackgroundLayout.alpha:
        return
    video: dict[str, Any] = next((s for s in data.get("streams", []) if s.get("codec_type") == "video"), {})
    tags = {k.lower(): v for k, v in (video.get("tags") or {}).items()}
    if str(tags.get("alpha_mode", "")) != "1":
        raise MediaError("output-mismatch", "the output should carry an alpha channel but has none")
