"""Split-and-stitch, the joining side: the concat list of the encoded chunks and the one ffmpeg command
that joins them by stream copy and muxes the audio, encoded once for the whole timeline from the
source (never per chunk: a chunked audio track would have a gap or a click at every seam).

The chunks go through ffmpeg's concat demuxer, which the inputs' format whitelist refuses on purpose
(a user's playlist could name other files): here the list is ours, written by the worker, naming only
the chunk files it downloaded, so this one command allows `concat` and the chunks' own container.
The audio is cut (and, if the source's is shorter, padded with silence) to the video's exact length,
so both streams end together.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from recast.core.formats import OutputType
from recast.core.job import InputMetadata
from recast.core.specs import OutputSpec
from recast.media import renditions
from recast.media.tools import FFMPEG, GLOBAL_ARGS, INPUT_OPTIONS

CHUNK_DEMUXERS = "concat,mov,matroska"


def concat_list(chunks: Sequence[Path]) -> str:
    """The concat demuxer's list: one `file` line per chunk, in order, quoted as the demuxer wants."""
    lines = ["ffconcat version 1.0"]
    for path in chunks:
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def stitch_command(
    spec: OutputSpec,
    meta: InputMetadata,
    listing: Path,
    src: Path,
    dst: Path,
    frames: int,
    rate: Fraction,
    first_frame: int = 0,
) -> list[str]:
    """ffmpeg: the chunks in `listing` joined by stream copy, with the source's audio encoded once (from
    the time of `first_frame`, cut or padded to the video's `frames / rate` seconds) when the input has
    audio and the output keeps it."""
    chunks = ffmpeg.input(
        f"file:{listing}", format="concat", safe=0, protocol_whitelist="file", format_whitelist=CHUNK_DEMUXERS
    )
    streams: list[Any] = [chunks.video]
    opts: dict[str, Any] = {"c:v": "copy"}
    if spec.type in (OutputType.mp4, OutputType.mov):
        opts["movflags"] = "+faststart"
        if spec.video[0].codec.value == "h265":
            opts["tag:v"] = "hvc1"
    if meta.audio_codec and spec.audio.enabled:
        length = f"{float(frames / rate):.6f}"
        # A clip's audio starts with its first frame.
        seek = {"ss": f"{float(first_frame / rate):.6f}"} if first_frame else {}
        source = ffmpeg.input(f"file:{src}", **seek, t=length, **INPUT_OPTIONS)
        streams.append(source.audio.filter("apad", whole_dur=length))
        codec = spec.audio_codec
        opts.update(
            {"c:a": renditions.AUDIO_ENCODERS[codec], "ac": spec.audio.channels, "ar": spec.sample_rate}
        )
        if spec.audio_bitrate_kbps:
            opts["b:a"] = f"{spec.audio_bitrate_kbps}k"
    out = ffmpeg.output(*streams, f"file:{dst}", format=renditions.MUXERS[spec.type], **opts)
    return [FFMPEG, *GLOBAL_ARGS, *out.get_args()]
