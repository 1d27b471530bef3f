"""The command line's finishing options: `--loudness`, `--captions`, `--burn-in` parsed and applied."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from recast.client.finishing import apply, caption_fields, parse_captions, parse_loudness


def test_loudness_forms() -> None:
    assert parse_loudness("-23") == {"target_lufs": -23.0}
    assert parse_loudness("-16:-1.5") == {"target_lufs": -16.0, "true_peak_db": -1.5}
    assert parse_loudness("measure") == {"measure_only": True}
    with pytest.raises(argparse.ArgumentTypeError, match="LUFS"):
        parse_loudness("loud")


def test_captions_forms() -> None:
    assert parse_captions("talk.en.vtt:en") == {"source": "talk.en.vtt", "language": "en"}
    assert parse_captions("https://x.example/fr.srt:fr:Français") == {
        "source": "https://x.example/fr.srt",
        "language": "fr",
        "label": "Français",
    }
    assert parse_captions("https://x.example/pt.srt:pt-BR") == {
        "source": "https://x.example/pt.srt",
        "language": "pt-BR",
    }
    for bad in ("talk.vtt", "talk.vtt:English", ":en"):
        with pytest.raises(argparse.ArgumentTypeError, match="FILE_OR_URL:LANG"):
            parse_captions(bad)


def test_options_apply_to_the_outputs_they_fit() -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "mp4", "video": {"codec": "h264"}},
        {"type": "mp3"},
        {"type": "jpg"},
        {"preset": "web"},
        {"type": "mp4", "video": {"codec": "h264"}, "audio": {"enabled": False}},
    ]
    done = apply(outputs, {"target_lufs": -16}, "en")
    assert done[0]["audio"] == {"loudness": {"target_lufs": -16}} and done[0]["burn_in"] == "en"
    assert done[1] == {"type": "mp3", "audio": {"loudness": {"target_lufs": -16}}}  # no burn_in
    assert done[2] == {"type": "jpg"}
    # A preset's own audio settings are kept: an `audio` given next to a preset replaces the preset's.
    assert done[3]["audio"]["loudness"] == {"target_lufs": -16} and done[3]["audio"]["bitrate"] == 128
    assert "loudness" not in done[4]["audio"]
    assert apply(outputs, None, None) == outputs


def test_local_caption_files_are_uploaded() -> None:
    uploaded: list[str] = []

    def upload(path: str) -> str:
        uploaded.append(path)
        return "upload://up_" + "x" * 24

    fields = caption_fields(
        [
            {"source": "a.vtt", "language": "en"},
            {"source": "https://x.example/b.srt", "language": "fr", "label": "FR"},
        ],
        upload,
    )
    assert uploaded == ["a.vtt"]
    assert fields == [
        {"url": "upload://up_" + "x" * 24, "language": "en"},
        {"url": "https://x.example/b.srt", "language": "fr", "label": "FR"},
    ]
