"""Remux, full-decode verification and quality metrics, on real ffmpeg output: the output activities in
Temporal's ActivityEnvironment, and the decode check on damaged files."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities import quality
from activities.deps import Deps
from activities.encode import EncodeActivities
from activities.stream import StreamActivities
from recast.core import pricing
from recast.core.formats import OutputType, VideoCodec
from recast.core.job import Output, OutputStatus
from recast.core.payloads import EncodeResult
from recast.core.quality import RungQuality
from recast.core.requests import Clip, Priority
from recast.core.specs import OutputSpec, VideoVariant
from recast.infra import config
from recast.media import probe, remux, renditions, streaming, verify
from recast.media.tools import MediaError
from tests.helpers import (
    damaged,
    ffprobe,
    make_with_ffmpeg,
    packets,
    place_input,
    request,
    stream_md5,
    top_level_boxes,
    vfr_clip,
    web_clip,
)


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    settings = config.Settings(
        data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s"
    )
    deps = Deps.from_settings(settings)
    yield deps
    deps.probes.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return web_clip(tmp_path_factory.mktemp("web") / "web.mp4")


def make(deps: Deps, src: Path, spec: dict[str, Any], clip: Clip | None = None) -> tuple[EncodeResult, Path]:
    """Run the output's activity on `src`; (its result, the stored file or package folder)."""
    key = "acme/jobs/job_f/input/" + src.name
    place_input(deps, src, key)
    req = request(deps, src, spec, "job_f")
    req.input_key, req.clip = key, clip
    activities = StreamActivities(deps).package_stream if spec["type"] in ("hls", "dash") else None
    act = activities or EncodeActivities(deps).encode_output
    result = asyncio.run(ActivityEnvironment().run(act, req))
    path = deps.storage.local_path(result.storage_key)
    assert path is not None
    return result, path


# ---------------------------------------------------------------- verification -----------------------------


def test_full_decode_counts_every_frame_and_where_streams_end(deps: Deps, web: Path) -> None:
    report = asyncio.run(verify.full_decode(web))
    assert (report.video_frames, report.decode_errors) == (60, 0)
    assert report.video_end_s == pytest.approx(2.0, abs=0.01)
    assert report.audio_end_s == pytest.approx(2.0, abs=0.05) and report.audio_frames > 90
    verify.check_decode(report, duration_s=2.0, framerate=30, audio_duration_s=2.0)
    with pytest.raises(MediaError, match=r"decoded 60 video frames, expected 120") as failed:
        verify.check_decode(report, duration_s=2.0, framerate=60)  # the plan wanted twice the frames
    assert failed.value.code == "verification-failed"


def test_truncated_and_corrupt_files_fail_verification(tmp_path: Path, web: Path) -> None:
    # Cut short: the index still promises 60 frames, the data ends early.
    cut = asyncio.run(verify.full_decode(damaged(web, tmp_path / "cut.mp4", keep=0.6)))
    assert cut.video_frames < 60 and cut.decode_errors > 0
    # Bytes flipped in the middle of the data: every frame may come out, but not cleanly.
    flipped = asyncio.run(verify.full_decode(damaged(web, tmp_path / "flip.mp4", flip_at=0.5)))
    assert flipped.decode_errors > 0
    for report in (cut, flipped):
        with pytest.raises(MediaError, match="decode error") as failed:
            verify.check_decode(report, duration_s=2.0, framerate=30)
        assert failed.value.code == "verification-failed"
    # Without the error lines, the frame count alone still catches the cut file.
    quiet = verify.DecodeReport(
        cut.video_frames, cut.audio_frames, 0, cut.video_end_s, cut.audio_end_s, cut.duration_s, 0.0, 0.0
    )
    with pytest.raises(MediaError, match="decode"):
        verify.check_decode(quiet, duration_s=2.0, framerate=30)


def test_the_output_check_fails_a_file_that_reads_but_does_not_decode(
    deps: Deps, web: Path, tmp_path: Path
) -> None:
    # What encode_output runs after its ffmpeg: the probe check passes (the container is intact), the
    # full decode beside it does not.
    req = request(deps, web, {"type": "mp4", "video": {"codec": "h264"}}, "job_v")
    dst = tmp_path / "out.mp4"
    plan = renditions.encode_plan(req.spec, req.input_metadata, web, dst)
    damaged(web, dst, flip_at=0.5)
    renditions.check_output(ffprobe(dst), req.spec, plan, req.input_metadata)
    with pytest.raises(MediaError, match="decode error") as failed:
        asyncio.run(quality.checked(deps, dst, req, plan))
    assert failed.value.code == "verification-failed"
    assert asyncio.run(quality.checked(deps, web, req, plan))["format"]  # the intact file passes


def test_a_variable_rate_input_passes_as_it_should(deps: Deps, tmp_path: Path) -> None:
    # webm keeps the input's timing (50 frames over 3 s: no constant rate to count against, and none
    # invented); mp4 and a ladder are made constant-rate at the input's nominal 30 fps and counted so.
    vfr = vfr_clip(tmp_path / "vfr.mp4")
    for spec in (
        {"type": "webm", "video": {"codec": "vp9"}},
        {"type": "mp4", "video": {"codec": "h264"}},
        {"type": "hls", "video": [{"codec": "h264"}, {"codec": "h264", "height": 180}]},
    ):
        result, _ = make(deps, vfr, spec)
        assert abs(result.duration_ms - 3000) < 150, spec
    assert asyncio.run(verify.full_decode(vfr)).video_frames == 50


def test_every_rung_of_a_ladder_is_decoded(deps: Deps, web: Path, tmp_path: Path) -> None:
    spec = {"type": "dash", "video": [{"codec": "h264", "height": 240}, {"codec": "h264", "height": 180}]}
    result, manifest = make(deps, web, spec)
    assert result.quality == []  # no metrics asked
    # The check the activity ran, again on the stored package: it passes, then fails once one segment of
    # the second rung is damaged.
    folder = manifest.parent
    meta = probe.input_metadata(ffprobe(web), web.stat().st_size)
    plan = streaming.ladder_plan(OutputSpec.model_validate(spec), meta, web, folder)
    joined = asyncio.run(quality.verify_package(folder, plan, meta, tmp_path))
    assert [(rung.index, path.stat().st_size > 0) for rung, path in joined] == [(0, True), (1, True)]
    damaged(folder / "chunk-1-00001.m4s", folder / "chunk-1-00001.m4s", flip_at=0.3)
    with pytest.raises(MediaError, match=r"rung 1 \(180p\): .*decode error") as failed:
        asyncio.run(quality.verify_package(folder, plan, meta, tmp_path))
    assert failed.value.code == "verification-failed"


# ---------------------------------------------------------------- metrics ----------------------------------


def test_metrics_rank_a_better_encode_higher(deps: Deps, web: Path) -> None:
    good, _ = make(
        deps, web, {"type": "mp4", "video": {"codec": "h264", "height": 240}, "metrics": ["ssim", "psnr"]}
    )
    low = {
        "type": "mp4",
        "video": {"codec": "h264", "height": 240, "bitrate": 100},
        "metrics": ["ssim", "psnr"],
    }
    bad, _ = make(deps, web, low)
    (g,), (b,) = good.quality, bad.quality
    assert (g.width, g.height, g.frames) == (426, 240, 60) == (b.width, b.height, b.frames)
    assert g.ssim and b.ssim and g.psnr and b.psnr
    assert g.ssim.mean > b.ssim.mean and g.psnr.mean > b.psnr.mean
    assert 0.95 < g.ssim.mean <= 1 and 0.5 < b.ssim.mean < g.ssim.mean
    assert 30 < g.psnr.mean < 60 and 15 < b.psnr.mean < g.psnr.mean
    assert g.ssim.min <= g.ssim.mean and g.psnr.min <= g.psnr.mean


def test_metrics_line_up_after_a_trim_and_a_lower_frame_rate(deps: Deps, web: Path) -> None:
    spec = {"type": "webm", "video": {"codec": "vp9", "height": 240, "framerate": 15}, "metrics": ["psnr"]}
    result, _ = make(deps, web, spec, clip=Clip(start=0.5, end=1.5))
    (q,) = result.quality
    # One second at 15 fps; frames compared with the same instants of the source: a one-frame shift of
    # testsrc2's moving picture would cost far more than the encode does.
    assert q.frames == 15 and q.ssim is None and q.psnr is not None and q.psnr.min > 28


def test_metrics_per_rung_of_a_ladder(deps: Deps, web: Path) -> None:
    spec = {
        "type": "hls",
        "video": [{"codec": "h264", "height": 240}, {"codec": "h264", "height": 180, "framerate": 15}],
        "metrics": ["ssim"],
    }
    result, _ = make(deps, web, spec)
    assert [(q.width, q.height, q.frames) for q in result.quality] == [(426, 240, 60), (320, 180, 30)]
    assert all(q.ssim and 0.9 < q.ssim.min <= q.ssim.mean <= 1 and q.psnr is None for q in result.quality)


def test_metrics_only_on_video_outputs() -> None:
    for spec in ({"type": "mp3", "metrics": ["ssim"]}, {"type": "jpg", "metrics": ["psnr"]}):
        with pytest.raises(
            ValueError, match=r"metrics are measured on video outputs \(mp4, webm, mkv, mov, hls, dash\)"
        ):
            OutputSpec.model_validate(spec)
    with pytest.raises(ValueError, match="allowed: ssim, psnr"):
        OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}, "metrics": ["vmaf"]})


# ---------------------------------------------------------------- remux ------------------------------------


def test_a_matching_input_is_remuxed_packet_for_packet(deps: Deps, web: Path) -> None:
    assert top_level_boxes(web).index("mdat") < top_level_boxes(web).index("moov")
    result, out = make(deps, web, {"type": "mp4", "video": {"codec": "h264"}, "metrics": ["psnr"]})
    assert result.strategy == "remux-mp4-h264"
    assert packets(out) == packets(web) and stream_md5(out) == stream_md5(web)
    assert packets(out, "a") == packets(web, "a")
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart: the index first
    (q,) = result.quality
    assert q.psnr and q.psnr.min == 100  # identical to its source, frame for frame


def test_anything_to_change_means_an_encode(deps: Deps, web: Path) -> None:
    result, out = make(deps, web, {"type": "mp4", "video": {"codec": "h264", "height": 240}})
    assert result.strategy is None and result.width == 426  # encoded: the plan's strategy stands
    assert packets(out) != packets(web)
    data = ffprobe(web)
    meta = probe.input_metadata(data, web.stat().st_size)

    def why(spec: dict[str, Any], **kw: Any) -> str | None:
        return remux.why_encode(OutputSpec.model_validate(spec), meta, data, **kw)

    h264 = {"codec": "h264"}
    assert why({"type": "mp4", "video": h264}) is None
    assert why({"type": "mov", "video": h264}) is None
    assert "always encoded" in str(why({"type": "mkv", "video": h264}))
    assert "trim" in str(why({"type": "mp4", "video": h264}, clip=Clip(start=0.5, end=1.0)))
    assert "h265 is asked" in str(why({"type": "mp4", "video": {"codec": "h265"}}))
    assert "frame size" in str(why({"type": "mp4", "video": {**h264, "width": 320}}))
    assert "15 fps" in str(why({"type": "mp4", "video": {**h264, "framerate": 15}}))
    assert "bitrate" in str(why({"type": "mp4", "video": {**h264, "bitrate": 200}}))
    assert "preset" in str(why({"type": "mp4", "video": {**h264, "preset": "slow"}}))
    assert "profile main" in str(why({"type": "mp4", "video": {**h264, "profile": "main"}}))
    assert "1 audio channels" in str(why({"type": "mp4", "video": h264, "audio": {"channels": 1}}))
    assert "64 kb/s" in str(why({"type": "mp4", "video": h264, "audio": {"bitrate": 64}}))
    assert "44100 Hz" in str(why({"type": "mp4", "video": h264, "audio": {"sample_rate": 44100}}))
    assert why({"type": "mp4", "video": h264, "audio": {"enabled": False}}) is None


def test_remux_of_a_rotated_or_odd_input_is_refused(tmp_path: Path, web: Path) -> None:
    rotated = tmp_path / "rotated.mp4"
    make_with_ffmpeg("-i", str(web), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    yuv444 = tmp_path / "yuv444.mp4"
    make_with_ffmpeg(
        "-i", str(web), "-c:v", "libx264", "-pix_fmt", "yuv444p", "-b:v", "300k", "-c:a", "copy", str(yuv444)
    )
    spec = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
    for path, reason in ((rotated, "rotated"), (yuv444, "4:4:4")):
        data = ffprobe(path)
        assert reason in str(remux.why_encode(spec, probe.input_metadata(data, 1), data))


def test_prices_of_remux_and_metrics() -> None:
    variant = VideoVariant(codec=VideoCodec.h264)
    base: dict[str, Any] = {"id": "out_1", "type": OutputType.mp4, "status": OutputStatus.completed}
    base.update(video=[variant], duration_ms=60_000, height=360)
    encoded = Output.model_validate({**base, "strategy": "video-mp4-h264"})
    copied = Output.model_validate({**base, "strategy": "remux-mp4-h264"})
    quality = [RungQuality(width=640, height=360, frames=1800)]
    measured = Output.model_validate({**base, "strategy": "video-mp4-h264", "quality": quality})
    price = pricing.actual
    assert (
        price([copied], Priority.standard) == pricing.REMUX_PER_MINUTE < price([encoded], Priority.standard)
    )
    assert price([measured], Priority.standard) == pytest.approx(
        price([encoded], Priority.standard) + pricing.METRICS_PER_MINUTE
    )
