"""Every output kind end to end: jobs with every video container, audio outputs of a video, an
audio-only input, a corrupt input, an invalid combination. The encode plans themselves are run and
checked without a stack in tests/unit/test_outputs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, activity_attempts, make_clip, make_tone, stream


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tiny")
    return {"video": make_clip(d / "tiny.mp4", seconds=1, size="320x180"), "tone": make_tone(d / "tone.m4a")}


# ---------------------------------------------------------------- containers and codecs -------------------


# ---------------------------------------------------------------- video options ----------------------------


# ---------------------------------------------------------------- audio ------------------------------------


# ---------------------------------------------------------------- probe codes ------------------------------


# ---------------------------------------------------------------- pricing ----------------------------------


# ---------------------------------------------------------------- end to end -------------------------------


def test_jobs_with_every_video_container(api: Api, tiny: dict[str, Path], tmp_path: Path) -> None:
    outputs = [
        {"type": "mkv", "video": {"codec": "h265"}},
        {"type": "mov", "video": {"codec": "h265"}},
        {"type": "webm", "video": {"codec": "av1"}},
        {"type": "mp4", "video": {"codec": "h264", "width": 320, "framerate": 15, "bitrate": 300}},
    ]
    done = api.wait(api.submit(tiny["video"], outputs)["id"])
    assert done["status"] == "completed", done
    mkv = stream(api.fetch_output(done, 0, tmp_path / "o.mkv"), "video")
    mov = stream(api.fetch_output(done, 1, tmp_path / "o.mov"), "video")
    webm = stream(api.fetch_output(done, 2, tmp_path / "o.webm"), "video")
    mp4 = stream(api.fetch_output(done, 3, tmp_path / "o.mp4"), "video")
    assert mkv and mov and webm and mp4
    assert mkv["codec_name"] == mov["codec_name"] == "hevc" and mov["codec_tag_string"] == "hvc1"
    assert webm["codec_name"] == "av1" and mp4["avg_frame_rate"] == "15/1"
    assert (mp4["width"], mp4["height"]) == (320, 180)
    assert done["outputs"][1]["content_type"] == "video/quicktime"
    assert done["outputs"][3]["filename"] == "tiny-320w-h264.mp4"


def test_audio_outputs_from_a_video_input(api: Api, tiny: dict[str, Path], tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "mp3", "audio": {"bitrate": 128}},
        {"type": "flac"},
        {"type": "wav", "audio": {"channels": 1}},
    ]
    done = api.wait(api.submit(tiny["video"], outputs)["id"])
    assert done["status"] == "completed", done
    for i, (ext, codec, channels, rate) in enumerate(
        [("mp3", "mp3", 2, "44100"), ("flac", "flac", 2, "48000"), ("wav", "pcm_s16le", 1, "48000")]
    ):
        data = api.fetch_output(done, i, tmp_path / f"o.{ext}")
        audio = stream(data, "audio")
        assert audio and (audio["codec_name"], audio["channels"], audio["sample_rate"]) == (
            codec,
            channels,
            rate,
        )
        assert abs(float(data["format"]["duration"]) - 1.0) <= 0.1
        assert done["outputs"][i]["width"] is None and done["outputs"][i]["video"] == []
    assert done["outputs"][0]["filename"] == "tiny-audio.mp3"
    assert done["total_actual_cost"] > 0


def test_audio_only_input(api: Api, tiny: dict[str, Path], tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "opus"},
        {"type": "m4a"},
        {"type": "mp4", "video": {"codec": "h264"}},
    ]
    done = api.wait(api.submit(tiny["tone"], outputs)["id"])
    assert done["status"] == "partial", done
    opus, m4a, mp4 = done["outputs"]
    assert (opus["status"], m4a["status"]) == ("completed", "completed")
    assert (mp4["status"], mp4["error_code"]) == ("failed", "no-video-stream")
    assert done["error_code"] == "no-video-stream"
    audio = stream(api.fetch_output(done, 1, tmp_path / "o.m4a"), "audio")
    assert audio and audio["codec_name"] == "aac"
    # only video outputs: refused right after probing
    only_video = api.wait(api.submit(tiny["tone"], [{"type": "webm", "video": {"codec": "vp9"}}])["id"])
    assert (only_video["status"], only_video["error_code"]) == ("failed", "no-video-stream")


def test_corrupt_input_fails_the_job(api: Api, tiny: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    data = bytearray(tiny["video"].read_bytes())
    start = data.find(b"mdat") + 8
    data[start : start + 4000] = b"\xff" * 4000
    broken.write_bytes(bytes(data))
    done = api.wait(api.submit(broken, [{"type": "mp4", "video": {"codec": "h264"}}])["id"])
    assert (done["status"], done["error_code"]) == ("failed", "corrupt-input"), done


def test_invalid_combination_is_a_400(api: Api, tiny: dict[str, Path]) -> None:
    resp = api.upload(tiny["video"], [{"type": "webm", "video": {"codec": "h264"}}])
    assert resp.status_code == 400
    assert "allowed: vp9, av1" in resp.json()["error"]["message"]
    resp = api.upload(
        tiny["video"], [{"type": "mov", "video": {"codec": "h264"}, "audio": {"codec": "opus"}}]
    )
    assert resp.status_code == 400 and "allowed: aac" in resp.json()["error"]["message"]


def test_a_frame_too_small_for_av1_fails_its_output_once(api: Api, temporal: Stack, tmp_path: Path) -> None:
    """SVT-AV1 makes no frame under 64 px: such an output fails at once with a code that says why (no
    retries of an encode that cannot work), and the job's other outputs are made."""
    small = make_clip(tmp_path / "small.mp4", seconds=1, size="96x48")
    done = api.wait(
        api.submit(
            small,
            [{"type": "mp4", "video": {"codec": "av1"}}, {"type": "mp4", "video": {"codec": "h264"}}],
        )["id"]
    )
    assert done["status"] == "partial", done
    av1, h264 = done["outputs"]
    assert (av1["status"], av1["error_code"]) == ("failed", "frame-too-small")
    assert "at least 64x64" in av1["error_message"] and "96x48" in av1["error_message"]
    assert h264["status"] == "completed" and (h264["width"], h264["height"]) == (96, 48)
    assert activity_attempts(temporal, done["id"], "encode_output") == [1, 1]
