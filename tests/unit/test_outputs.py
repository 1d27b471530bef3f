"""Every output kind without a stack: containers, video codecs and options, audio tracks, audio-only
outputs, probe error codes, prices.

`encode_plan` builds the ffmpeg command, which runs on tiny lavfi clips (1 s, 320x180); the result is
held against `check_output` and ffprobe.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from recast.core import pricing, specs
from recast.core.formats import Quality, VideoCodec
from recast.core.job import InputMetadata
from recast.core.requests import Priority
from recast.core.specs import OutputSpec, VideoVariant
from recast.media import probe as probing
from recast.media import renditions, tools
from tests.helpers import make_clip, make_tone, probe, stream


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tiny")
    return {"video": make_clip(d / "tiny.mp4", seconds=1, size="320x180"), "tone": make_tone(d / "tone.m4a")}


def encode(src: Path, spec_json: dict[str, Any], dst: Path) -> tuple[dict[str, Any], renditions.EncodePlan]:
    """Encode, check with check_output (raises on a mismatch), return the output's ffprobe data."""
    spec = OutputSpec.model_validate(spec_json)
    meta = probe(src)
    plan = renditions.encode_plan(spec, meta, src, dst)
    run = subprocess.run(plan.args, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    data = asyncio.run(probing.probe_raw(dst))
    renditions.check_output(data, spec, plan, meta)
    return data, plan


@pytest.mark.parametrize(
    ("container", "codec", "probed", "audio"),
    [
        ("mp4", "h264", "h264", "aac"),
        ("mp4", "h265", "hevc", "aac"),
        ("mp4", "av1", "av1", "aac"),
        ("mov", "h264", "h264", "aac"),
        ("mov", "h265", "hevc", "aac"),
        ("mkv", "h264", "h264", "opus"),
        ("mkv", "h265", "hevc", "opus"),
        ("mkv", "vp9", "vp9", "opus"),
        ("webm", "vp9", "vp9", "opus"),
        ("webm", "av1", "av1", "opus"),
    ],
)
def test_container_codec(
    tiny: dict[str, Path], tmp_path: Path, container: str, codec: str, probed: str, audio: str
) -> None:
    data, _ = encode(
        tiny["video"], {"type": container, "video": {"codec": codec}}, tmp_path / f"o.{container}"
    )
    video, sound = stream(data, "video"), stream(data, "audio")
    assert video is not None and sound is not None
    assert (video["codec_name"], video["width"], video["height"]) == (probed, 320, 180)
    assert sound["codec_name"] == audio and sound["channels"] == 2
    if codec == "h265" and container in ("mp4", "mov"):
        assert video["codec_tag_string"] == "hvc1"
    assert abs(probing.duration_s(data) - 1.0) <= 0.1


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ({"type": "webm", "video": {"codec": "h264"}}, "allowed: vp9, av1"),
        ({"type": "mov", "video": {"codec": "vp9"}}, "allowed: h264, h265"),
        ({"type": "mp4", "video": {"codec": "h264"}, "audio": {"codec": "opus"}}, "allowed: aac"),
        ({"type": "webm", "video": {"codec": "vp9"}, "audio": {"codec": "aac"}}, "allowed: opus"),
        ({"type": "mp4"}, "needs a video variant"),
        ({"type": "mp3", "video": {"codec": "h264"}}, "takes no video"),
        ({"type": "flac", "audio": {"bitrate": 128}}, "lossless"),
        ({"type": "opus", "audio": {"sample_rate": 44100}}, "8000, 16000, 24000, 48000"),
        ({"type": "mp4", "video": {"codec": "vp9", "preset": "fast"}}, "only for h264 and h265"),
        ({"type": "mp4", "video": {"codec": "h265", "profile": "high"}}, "allowed: main"),
        ({"type": "mp4", "video": {"codec": "h264", "resolution": "720p", "width": 640}}, "not both"),
        ({"type": "mp4", "video": {"codec": "h264", "width": 100}}, "greater than or equal to 128"),
        ({"type": "mp4", "video": {"codec": "h264", "bitrate": 99}}, "greater than or equal to 100"),
        ({"type": "mp4", "video": {"codec": "h264", "framerate": 0.5}}, "framerate is 0"),
        ({"type": "mp4", "video": {"codec": "h264"}, "audio": {"channels": 6}}, "less than or equal to 2"),
    ],
)
def test_invalid_combinations_are_refused(spec: dict[str, Any], allowed: str) -> None:
    with pytest.raises(ValidationError, match=allowed):
        OutputSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("variant", "size", "want"),
    [
        ({"width": 1280}, (1920, 1080), (1280, 720)),
        ({"height": 480}, (1920, 1080), (854, 480)),
        ({"width": 1280, "height": 1280}, (1920, 1080), (1280, 720)),  # fitted inside the box
        ({"width": 640, "height": 640}, (1080, 1920), (360, 640)),  # portrait in a square box
        ({"width": 3840}, (1920, 1080), (1920, 1080)),  # never upscaled
        ({"resolution": "1440p"}, (3840, 2160), (2560, 1440)),
        ({"resolution": "2160p"}, (1920, 1080), (1920, 1080)),
    ],
)
def test_width_height_sizing(variant: dict[str, Any], size: tuple[int, int], want: tuple[int, int]) -> None:
    got = specs.target_size(VideoVariant.model_validate({"codec": "h264", **variant}), *size)
    assert got == want and got[0] % 2 == 0 and got[1] % 2 == 0


def test_width_framerate_bitrate(tiny: dict[str, Path], tmp_path: Path) -> None:
    spec = {"type": "mp4", "video": {"codec": "h264", "width": 160, "framerate": 15, "bitrate": 300}}
    data, plan = encode(tiny["video"], spec, tmp_path / "o.mp4")
    video = stream(data, "video")
    assert video is not None and (video["width"], video["height"]) == (160, 90)
    assert video["avg_frame_rate"] == "15/1" and plan.framerate == 15
    assert "-b:v" in plan.args and "300k" in plan.args and "-crf" not in plan.args


def test_framerate_is_never_raised(tiny: dict[str, Path], tmp_path: Path) -> None:
    spec = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264", "framerate": 60}})
    plan = renditions.encode_plan(spec, probe(tiny["video"]), tiny["video"], tmp_path / "o.mp4")
    assert plan.framerate is None and "fps" not in " ".join(plan.args)


@pytest.mark.parametrize(
    ("variant", "expect"),
    [
        ({"codec": "h264", "preset": "slow", "profile": "main"}, ["-preset", "slow", "-profile:v", "main"]),
        ({"codec": "h264", "quality": "premium"}, ["-preset", "medium", "-crf", "20"]),
        ({"codec": "h265", "quality": "economy"}, ["-preset", "veryfast", "-crf", "30"]),
        ({"codec": "h265", "preset": "fast"}, ["-preset", "fast", "-crf", "26"]),
        ({"codec": "av1", "quality": "premium"}, ["-preset", "6", "-crf", "30"]),
        ({"codec": "vp9", "quality": "economy"}, ["-cpu-used", "5", "-crf", "40"]),
    ],
)
def test_quality_and_codec_options(
    tiny: dict[str, Path], tmp_path: Path, variant: dict[str, Any], expect: list[str]
) -> None:
    spec = OutputSpec.model_validate({"type": "mkv", "video": variant})
    args = renditions.encode_plan(spec, probe(tiny["video"]), tiny["video"], tmp_path / "o.mkv").args
    for flag, value in zip(expect[::2], expect[1::2], strict=True):
        assert args[args.index(flag) + 1] == value, (flag, args)


def test_h265_profile_is_applied(tiny: dict[str, Path], tmp_path: Path) -> None:
    spec = {"type": "mp4", "video": {"codec": "h265", "profile": "main", "preset": "ultrafast"}}
    data, _ = encode(tiny["video"], spec, tmp_path / "o.mp4")
    video = stream(data, "video")
    assert video is not None and video["profile"] == "Main" and video["codec_tag_string"] == "hvc1"


def test_audio_track_options_and_none(tiny: dict[str, Path], tmp_path: Path) -> None:
    spec = {
        "type": "mkv",
        "video": {"codec": "h264"},
        "audio": {"codec": "aac", "bitrate": 64, "channels": 1, "sample_rate": 32000},
    }
    data, _ = encode(tiny["video"], spec, tmp_path / "o.mkv")
    audio = stream(data, "audio")
    assert audio is not None
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("aac", 1, "32000")
    data, plan = encode(
        tiny["video"],
        {"type": "mp4", "video": {"codec": "h264"}, "audio": {"enabled": False}},
        tmp_path / "n.mp4",
    )
    assert stream(data, "audio") is None and plan.audio_codec is None


@pytest.mark.parametrize(
    ("kind", "audio", "codec", "channels", "rate"),
    [
        ("mp3", {}, "mp3", 2, 44100),
        ("mp3", {"bitrate": 96, "channels": 1, "sample_rate": 22050}, "mp3", 1, 22050),
        ("m4a", {"bitrate": 64}, "aac", 2, 48000),
        ("opus", {"channels": 1}, "opus", 1, 48000),
        ("wav", {"sample_rate": 16000}, "pcm_s16le", 2, 16000),
        ("flac", {"channels": 1, "sample_rate": 44100}, "flac", 1, 44100),
    ],
)
def test_audio_only_outputs(
    tiny: dict[str, Path],
    tmp_path: Path,
    kind: str,
    audio: dict[str, Any],
    codec: str,
    channels: int,
    rate: int,
) -> None:
    for src in (tiny["video"], tiny["tone"]):  # from a video input and from an audio-only one
        data, _ = encode(src, {"type": kind, "audio": audio}, tmp_path / f"o.{kind}")
        got = stream(data, "audio")
        assert got is not None and stream(data, "video") is None
        assert (got["codec_name"], got["channels"], int(got["sample_rate"])) == (codec, channels, rate)
        assert abs(probing.duration_s(data) - 1.0) <= 0.1


def test_check_output_refuses_wrong_audio_parameters(tiny: dict[str, Path], tmp_path: Path) -> None:
    spec = OutputSpec.model_validate({"type": "flac", "audio": {"channels": 1}})
    meta = probe(tiny["tone"])
    plan = renditions.encode_plan(spec, meta, tiny["tone"], tmp_path / "o.flac")
    stereo, _ = encode(tiny["tone"], {"type": "flac"}, tmp_path / "s.flac")
    with pytest.raises(tools.MediaError, match="expected 1 audio channels"):
        renditions.check_output(stereo, spec, plan, meta)
    wav, _ = encode(tiny["tone"], {"type": "wav", "audio": {"channels": 1}}, tmp_path / "s.wav")
    with pytest.raises(tools.MediaError, match="expected flac audio"):
        renditions.check_output(wav, spec, plan, meta)
    # the right codec and channels in the wrong container
    mkv = tmp_path / "f.mkv"
    flac_in_mkv, _ = encode(
        tiny["video"],
        {"type": "mkv", "video": {"codec": "h264"}, "audio": {"codec": "flac", "channels": 1}},
        mkv,
    )
    with pytest.raises(tools.MediaError, match="expected a flac file"):
        renditions.check_output(
            {**flac_in_mkv, "streams": [s for s in flac_in_mkv["streams"] if s["codec_type"] == "audio"]},
            spec,
            plan,
            meta,
        )


def test_corrupt_input(tiny: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    data = bytearray(tiny["video"].read_bytes())
    start = data.find(b"mdat") + 8  # the container stays readable, the frames do not
    data[start : start + 4000] = b"\xff" * 4000
    broken.write_bytes(bytes(data))
    probe(broken)  # ffprobe reads the container fine
    with pytest.raises(tools.MediaError) as err:
        asyncio.run(probing.decode_check(broken))
    assert err.value.code == "corrupt-input"
    asyncio.run(probing.decode_check(tiny["video"]))  # sound inputs pass
    asyncio.run(probing.decode_check(tiny["tone"]))


def test_unsupported_codec() -> None:
    data = {
        "format": {"duration": "1.0"},
        "streams": [{"codec_type": "video", "codec_tag_string": "XYZ1", "width": 320, "height": 180}],
    }
    with pytest.raises(tools.MediaError) as err:
        probing.input_metadata(data, 100)
    assert err.value.code == "unsupported-codec"


def test_prices_for_new_codecs_and_audio() -> None:
    meta = InputMetadata(duration_ms=60_000, width=3840, height=2160, file_size_bytes=1)
    specs = [
        OutputSpec.model_validate(s) for s in ({"type": "mkv", "video": {"codec": "av1"}}, {"type": "mp3"})
    ]
    assert pricing.estimate(specs, meta, Priority.standard) == pytest.approx(0.090 + 0.002)
    assert pricing.rate(VideoCodec.h265, 720, Quality.standard, Priority.standard) == 0.020
    audio_only = InputMetadata(duration_ms=60_000, audio_codec="aac", file_size_bytes=1)
    assert pricing.estimate(specs, audio_only, Priority.standard) == pytest.approx(0.002)
