"""Loudness and captions through the API and a worker: a job with caption files (served over HTTP)
and `audio.loudness`, the finished outputs' reports, the files probed; the 400s of bad combinations.

Their media details (every container, HLS/DASH, burn-in, hostile files) are in tests/unit/test_captions.py
and test_loudness.py, run on the activities directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recast.core import pricing
from recast.devstack.stack import Stack
from tests.helpers import API_KEY, Api, ffprobe, make_clip, stream, upload_form
from tests.helpers.finishing import ebur128

VTT = "WEBVTT\n\n00:00.300 --> 00:01.500\nHello <b>world</b>\n\n00:01.500 --> 00:02.000\nBye\n"


@pytest.fixture(scope="module")
def media(clips: dict[str, Path]) -> dict[str, Path]:
    """A clip and a caption file in the folder the `http_server` fixture serves."""
    folder = clips["small"].parent
    (folder / "fin-en.vtt").write_text(VTT)
    return {"clip": make_clip(folder / "fin-clip.mp4", seconds=2, size="320x240", rate=25)}


def test_captions_and_loudness_end_to_end(
    api: Api, http_server: str, media: dict[str, Path], tmp_path: Path
) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "mp4", "video": {"codec": "h264"}, "audio": {"loudness": {"target_lufs": -16}}},
        {"type": "mp3", "audio": {"loudness": {"measure_only": True}}},
    ]
    captions = [{"url": f"{http_server}/fin-en.vtt", "language": "en", "label": "English"}]
    resp = upload_form(
        api, media["clip"], outputs, captions=json.dumps(captions), clip='{"start": 0.5, "end": 1.8}'
    )
    assert resp.status_code == 202, resp.text
    job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    mp4, mp3 = job["outputs"]
    assert mp4["captions"] == {"tracks": ["en"], "burned_in": None}
    assert mp3["captions"] is None  # audio-only: no captions
    assert mp4["audio"]["loudness"]["normalization"] == "linear"
    assert mp3["audio"]["loudness"]["normalization"] == "none"

    data = api.fetch_output(job, 0, tmp_path / "out.mp4")
    subtitle = stream(data, "subtitle")
    assert subtitle is not None and subtitle["codec_name"] == "mov_text"
    assert subtitle["tags"]["language"] == "eng" and subtitle["tags"]["handler_name"] == "English"
    # The clip starts at 0.5 s: the first cue (0.3–1.5 s of the input) is now 0–1.0 s.
    text = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp_path / "out.mp4"), "-map", "0:s:0", "-f", "webvtt", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "00:00.000 --> 00:01.000\nHello <b>world</b>\n\n00:01.000 --> 00:01.300\nBye" in text, text
    assert abs(ebur128(tmp_path / "out.mp4").integrated_lufs + 16) <= 1.0

    # The estimate included loudness for both outputs (the mp3's measure_only too).
    minutes = 1.3 / 60
    floor = minutes * (2 * pricing.LOUDNESS_PER_MINUTE + pricing.AUDIO_PER_MINUTE)
    assert job["total_estimated_cost"] >= round(floor, 4)


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (
            {"outputs": [{"type": "mp4", "video": {"codec": "h264"}, "burn_in": "fr"}]},
            "invalid-input",
            "burn_in: 'fr' names no caption file; captions: en",
        ),
        (
            {"outputs": [{"type": "m4a", "burn_in": "en"}]},
            "invalid-input",
            "burn_in is only for video outputs (mp4, mov, mkv, webm, hls, dash), not m4a",
        ),
        (
            {"captions": [{"url": "http://169.254.169.254/latest/x.vtt", "language": "en"}]},
            "forbidden-url",
            "captions[0].url",
        ),
    ],
)
def test_bad_combinations_are_400_naming_what_is_allowed(
    api: Api, extra: dict[str, Any], code: str, message: str
) -> None:
    body = {
        "input_url": "https://example.com/in.mp4",
        "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
        "captions": [{"url": "https://example.com/en.vtt", "language": "en"}],
        **extra,
    }
    resp = api.http.post("/v1/jobs", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and message in error["message"], error


def test_the_cli_uploads_a_caption_file_and_asks_for_loudness(
    stack: Stack, media: dict[str, Path], tmp_path: Path
) -> None:
    captions = tmp_path / "talk.srt"
    captions.write_text("1\n00:00:00,200 --> 00:00:01,000\nHallo\n")
    env = {**os.environ, "RECAST_API_URL": stack.env["API_URL"], "RECAST_API_KEY": API_KEY}
    args = [str(media["clip"]), "-o", "mkv:h264", "--loudness", "-20", "--captions", f"{captions}:de:Deutsch"]
    run = subprocess.run(
        [sys.executable, "-m", "recast.client.cli", "submit", *args, "--download", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    [saved] = [Path(line) for line in run.stdout.split()]
    subtitle = stream(ffprobe(saved), "subtitle")
    assert subtitle is not None and subtitle["codec_name"] == "webvtt"
    assert subtitle["tags"]["language"] == "ger" and subtitle["tags"]["title"] == "Deutsch"
    assert abs(ebur128(saved).integrated_lufs + 20) <= 1.0
