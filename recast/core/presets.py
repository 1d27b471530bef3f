"""The preset catalog: named, documented outputs. Pure data and a lookup; no models imported.

A preset is one output spec in JSON, exactly what a client could have written in `outputs`. A
request's `{"preset": "web"}` is replaced by that JSON before the output is validated
(`OutputSpec`, in recast.core.specs), so a preset is never anything but an ordinary output. Top-level
fields given next to `preset` replace the preset's own (e.g. `{"preset": "web", "audio":
{"enabled": false}}`). Adding a preset is adding an entry to CATALOG; tests/e2e/test_presets.py checks
that every entry validates and runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

DEFAULT = "web"  # what POST /v1/optimize makes when no output is given


@dataclass(frozen=True)
class Preset:
    description: str
    output: dict[str, Any]  # an OutputSpec, as JSON


CATALOG: dict[str, Preset] = {
    "web": Preset(
        "MP4, H.264 up to 720p with AAC stereo: plays in every browser and device. The default.",
        {"type": "mp4", "video": {"codec": "h264", "resolution": "720p"}, "audio": {"bitrate": 128}},
    ),
    "low-bandwidth": Preset(
        "MP4, H.264 (main profile) up to 480p at 24 fps, economy quality, mono AAC 64 kb/s: "
        "small files for slow connections and old devices.",
        {
            "type": "mp4",
            "video": {
                "codec": "h264",
                "resolution": "480p",
                "quality": "economy",
                "framerate": 24,
                "profile": "main",
            },
            "audio": {"bitrate": 64, "channels": 1},
        },
    ),
    "audio-podcast": Preset(
        "MP3, mono 64 kb/s at 44.1 kHz: speech at podcast-directory size.",
        {"type": "mp3", "audio": {"bitrate": 64, "channels": 1, "sample_rate": 44100}},
    ),
    "social-vertical": Preset(
        "MP4, H.264 9:16 portrait up to 1080x1920, cropped to fill the frame (a landscape input "
        "keeps its centre), AAC stereo: for stories, reels and shorts.",
        {
            "type": "mp4",
            "video": {"codec": "h264", "width": 1080, "height": 1920, "fit": "cover", "framerate": 30},
            "audio": {"bitrate": 128},
        },
    ),
    "hls-ladder": Preset(
        "HLS, H.264 ladder of 1080p, 720p and 480p (`economy`) rungs, 6 s segments aligned across "
        "rungs, one shared AAC stereo rendition: adaptive streaming for every HLS player.",
        {
            "type": "hls",
            "video": [
                {"codec": "h264", "resolution": "1080p"},
                {"codec": "h264", "resolution": "720p"},
                {"codec": "h264", "resolution": "480p", "quality": "economy"},
            ],
        },
    ),
    "thumbnail-strip": Preset(
        "20 JPEG thumbnails 160 px wide, evenly spaced over the input, and a sprite sheet of them "
        "(10 columns) with a WebVTT index: scrubbing previews for a player's timeline.",
        {"type": "thumbnails", "thumbnails": {"count": 20, "width": 160, "sprite": {"columns": 10}}},
    ),
}


class UnknownPreset(ValueError):
    def __init__(self, name: object) -> None:
        super().__init__(f"unknown preset {repr(name)[:80]}; known presets: {', '.join(CATALOG)}")


def expand(name: object) -> dict[str, Any]:
    """The output JSON of a preset (a copy: callers may change it)."""
    if not isinstance(name, str) or name not in CATALOG:
        raise UnknownPreset(name)
    return copy.deepcopy(CATALOG[name].output)
