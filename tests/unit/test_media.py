"""The media layer on real files: probing, sizing, and the output check that refuses bad encodes."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from recast.core import specs
from recast.core.formats import Resolution, VideoCodec
from recast.core.job import InputMetadata
from recast.core.specs import OutputSpec, VideoVariant
from recast.media import probe as probing
from recast.media import renditions, tools
from tests.helpers import make_clip, probe


@pytest.mark.parametrize(
    ("resolution", "size", "want"),
    [
        ("480p", (1920, 1080), (854, 480)),
        ("720p", (1920, 1080), (1280, 720)),
        ("1080p", (640, 360), (640, 360)),  # never upscaled
        ("480p", (1080, 1920), (270, 480)),  # portrait keeps its aspect
        ("480p", (641, 361), (640, 360)),  # odd input: evened, not upscaled
        (None, (1279, 719), (1280, 720)),
    ],
)
def test_target_size(resolution: str | None, size: tuple[int, int], want: tuple[int, int]) -> None:
    variant = VideoVariant(codec=VideoCodec.h264, resolution=Resolution(resolution) if resolution else None)
    got = specs.target_size(variant, *size)
    assert got == want
    assert got[0] % 2 == 0 and got[1] % 2 == 0


def test_probe_reports_input_metadata(clips: dict[str, Path]) -> None:
    meta = probe(clips["small"])
    assert (meta.width, meta.height, meta.codec, meta.audio_codec) == (640, 360, "h264", "aac")
    assert meta.framerate == 30 and abs(meta.duration_ms - 2000) <= 50
    assert meta.file_size_bytes == clips["small"].stat().st_size


def test_audio_only_input_is_accepted_but_not_for_video(tmp_path: Path) -> None:
    # Probing accepts an audio-only input (audio outputs can be made); a video output cannot.
    wav = tmp_path / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", str(wav)], check=True)
    meta = probe(wav)
    assert (meta.width, meta.height, meta.codec, meta.audio_codec) == (None, None, None, "pcm_s16le")
    spec = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
    with pytest.raises(tools.MediaError) as err:
        renditions.encode_plan(spec, meta, wav, tmp_path / "o.mp4")
    assert err.value.code == "no-video-stream"


def encode(src: Path, spec: OutputSpec, dst: Path) -> tuple[renditions.EncodePlan, InputMetadata]:
    meta = probe(src)
    plan = renditions.encode_plan(spec, meta, src, dst)
    subprocess.run(plan.args, check=True, capture_output=True)
    return plan, meta


def test_check_output_accepts_a_good_encode(clips: dict[str, Path], tmp_path: Path) -> None:
    spec = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264", "resolution": "480p"}})
    plan, meta = encode(clips["small"], spec, tmp_path / "o.mp4")
    renditions.check_output(asyncio.run(probing.probe_raw(tmp_path / "o.mp4")), spec, plan, meta)


def test_check_output_refuses_a_short_encode(clips: dict[str, Path], tmp_path: Path) -> None:
    spec = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
    plan, meta = encode(clips["small"], spec, tmp_path / "o.mp4")
    truncated = make_clip(tmp_path / "short.mp4", seconds=1)  # what a silently cut-off encode looks like
    with pytest.raises(tools.MediaError) as err:
        renditions.check_output(asyncio.run(probing.probe_raw(truncated)), spec, plan, meta)
    assert err.value.code == "output-mismatch" and "lasts" in str(err.value)


def test_check_output_refuses_wrong_codec_size_or_missing_audio(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    spec = OutputSpec.model_validate({"type": "webm", "video": {"codec": "vp9"}})
    plan, meta = encode(clips["small"], spec, tmp_path / "o.webm")
    h264 = asyncio.run(probing.probe_raw(clips["small"]))  # right size and length, wrong codec
    with pytest.raises(tools.MediaError, match="expected vp9"):
        renditions.check_output(h264, spec, plan, meta)
    small = asyncio.run(probing.probe_raw(make_clip(tmp_path / "s.mp4", size="320x180")))
    with pytest.raises(tools.MediaError, match="expected 640x360"):
        renditions.check_output(
            {**small, "streams": [{**small["streams"][0], "codec_name": "vp9"}]}, spec, plan, meta
        )
    silent = asyncio.run(probing.probe_raw(tmp_path / "o.webm"))
    silent["streams"] = [s for s in silent["streams"] if s["codec_type"] == "video"]
    with pytest.raises(tools.MediaError, match="expected opus audio"):
        renditions.check_output(silent, spec, plan, meta)
