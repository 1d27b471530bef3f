"""Loudness (`audio.loudness`): quiet and loud inputs normalized to the target on single files, audio-only
files and a ladder's audio, checked with ffmpeg's ebur128 filter (not the loudnorm analysis Recast
uses); measure_only leaves the audio bit-identical; the spec's 400 messages; the price."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.core import pricing
from recast.core.requests import Priority
from recast.core.specs import OutputSpec
from recast.infra import config
from recast.media import streaming
from tests.helpers import make_with_ffmpeg, probe
from tests.helpers.finishing import audio_md5, ebur128, joined_audio, run_output

VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=4"]
SOURCES = {
    # A 440 Hz tone 30 dB under lavfi's default level: about -51 LUFS.
    "quiet": "sine=frequency=440:sample_rate=48000:duration=4,volume=-30dB",
    # Pink noise near full scale: about -16 LUFS, peaks near -2 dBFS.
    "loud": "anoisesrc=color=pink:amplitude=0.9:sample_rate=48000:duration=4:seed=7",
    "silent": "anullsrc=sample_rate=48000:channel_layout=stereo:duration=4",
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loudness")
    made = {}
    for name, audio in SOURCES.items():
        path = folder / f"{name}.mp4"
        encode = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k", "-shortest"]
        make_with_ffmpeg(*VIDEO, "-f", "lavfi", "-i", audio, *encode, str(path))
        made[name] = path
    return made


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    settings = config.Settings(
        data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s"
    )
    deps = Deps.from_settings(settings)
    yield deps
    deps.probes.close()


def _assert_on_target(measured_lufs: float, peak_db: float, target: float, ceiling: float) -> None:
    assert abs(measured_lufs - target) <= 1.0, f"{measured_lufs} LUFS, target {target}"
    assert peak_db <= ceiling, f"true peak {peak_db} dBTP over the ceiling {ceiling}"


@pytest.mark.parametrize(
    ("source", "spec", "target", "ceiling"),
    [
        ("quiet", {"type": "mp4", "video": {"codec": "h264"}}, -23.0, -1.0),
        ("loud", {"type": "mp4", "video": {"codec": "h264"}}, -23.0, -1.0),
        ("quiet", {"type": "mp3"}, -16.0, -1.5),  # audio-only
        ("loud", {"type": "m4a"}, -24.0, -1.5),
    ],
)
def test_quiet_and_loud_inputs_land_on_the_target(
    deps: Deps,
    sources: dict[str, Path],
    source: str,
    spec: dict[str, Any],
    target: float,
    ceiling: float,
) -> None:
    before = ebur128(sources[source])
    spec = {**spec, "audio": {"loudness": {"target_lufs": target, "true_peak_db": ceiling}}}
    result, stored = run_output(deps, sources[source], spec, f"job_{source}")
    after = ebur128(stored)
    _assert_on_target(after.integrated_lufs, after.true_peak_db, target, ceiling)
    assert abs(before.integrated_lufs - target) > 5, "the input should start far from the target"
    assert result.audio is not None and result.audio.loudness is not None
    report = result.audio.loudness
    # The report agrees with the independent measurement, before and after.
    assert abs(report.input.integrated_lufs - before.integrated_lufs) <= 1.0
    assert abs(report.output.integrated_lufs - after.integrated_lufs) <= 1.0
    assert report.target_lufs == target and report.true_peak_db == ceiling
    assert report.normalization == "linear"


def test_a_ladders_shared_audio_is_normalized(deps: Deps, sources: dict[str, Path], tmp_path: Path) -> None:
    spec = {
        "type": "hls",
        "video": [{"codec": "h264"}, {"codec": "h264", "width": 128}],
        "segments": {"duration": 2},
        "audio": {"loudness": {"target_lufs": -18}},
    }
    result, master = run_output(deps, sources["quiet"], spec, "job_ladder")
    package = master.parent
    _, audio = streaming.read_hls(package)
    assert audio is not None
    joined = joined_audio(package, audio.init, [s for s, _ in audio.segments], tmp_path / "audio.mp4")
    after = ebur128(joined)
    _assert_on_target(after.integrated_lufs, after.true_peak_db, -18.0, -1.0)
    assert result.audio is not None and result.audio.loudness is not None
    assert abs(result.audio.loudness.output.integrated_lufs - after.integrated_lufs) <= 1.0


def test_a_target_the_peaks_cannot_reach_linearly_is_limited_to_the_ceiling(
    deps: Deps, sources: dict[str, Path]
) -> None:
    # Noise at -15.8 LUFS with -5.4 dBTP peaks, asked for -12 LUFS under -1 dBTP: the +3.8 dB gain would
    # put the peaks over the ceiling (less AAC's margin), so loudnorm limits them (its dynamic mode).
    spec = {"type": "m4a", "audio": {"loudness": {"target_lufs": -12, "true_peak_db": -1}}}
    result, stored = run_output(deps, sources["loud"], spec, "job_peaky")
    after = ebur128(stored)
    _assert_on_target(after.integrated_lufs, after.true_peak_db, -12.0, -1.0)
    assert result.audio is not None and result.audio.loudness is not None
    assert result.audio.loudness.normalization == "dynamic"


def test_measure_only_reports_and_leaves_the_audio_identical(deps: Deps, sources: dict[str, Path]) -> None:
    plain, plain_file = run_output(
        deps, sources["quiet"], {"type": "mp4", "video": {"codec": "h264"}}, "job_p"
    )
    spec = {"type": "mp4", "video": {"codec": "h264"}, "audio": {"loudness": {"measure_only": True}}}
    measured, measured_file = run_output(deps, sources["quiet"], spec, "job_m")
    assert audio_md5(measured_file) == audio_md5(plain_file)
    assert plain.audio is not None and plain.audio.loudness is None
    assert measured.audio is not None and measured.audio.loudness is not None
    report = measured.audio.loudness
    assert report.normalization == "none" and report.target_lufs is None
    independent = ebur128(sources["quiet"]).integrated_lufs
    assert abs(report.input.integrated_lufs - independent) <= 1.0
    assert abs(report.output.integrated_lufs - report.input.integrated_lufs) <= 1.0


def test_silence_cannot_be_normalized_but_can_be_measured(deps: Deps, sources: dict[str, Path]) -> None:
    spec: dict[str, Any] = {"type": "m4a", "audio": {"loudness": {"target_lufs": -23}}}
    with pytest.raises(ApplicationError) as failed:
        run_output(deps, sources["silent"], spec, "job_s")
    assert failed.value.type == "loudness-failed" and "silent" in str(failed.value)
    spec["audio"]["loudness"] = {"measure_only": True}
    result, _ = run_output(deps, sources["silent"], spec, "job_s2")
    assert result.audio is not None and result.audio.loudness is not None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "mp3", "audio": {"loudness": {"target_lufs": -3}}}, "less than or equal to -5"),
        ({"type": "mp3", "audio": {"loudness": {"true_peak_db": 1}}}, "less than or equal to 0"),
        ({"type": "mp3", "audio": {"loudness": {"measure_only": True, "target_lufs": -16}}}, "measure_only"),
        ({"type": "mp3", "audio": {"loudness": {"target": -16}}}, "Extra inputs"),
        (
            {"type": "mp4", "video": {"codec": "h264"}, "audio": {"enabled": False, "loudness": {}}},
            "audio is disabled",
        ),
        ({"type": "png", "audio": {"loudness": {}}}, "takes no audio"),
    ],
)
def test_bad_loudness_specs_are_refused_naming_what_is_allowed(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OutputSpec.model_validate(spec)


def test_loudness_is_priced_per_output_minute(sources: dict[str, Path]) -> None:
    meta = probe(sources["quiet"])
    plain = OutputSpec.model_validate({"type": "mp3"})
    loud = OutputSpec.model_validate({"type": "mp3", "audio": {"loudness": {}}})
    minutes = meta.duration_ms / 60_000
    extra = pricing.estimate([loud], meta, Priority.standard) - pricing.estimate(
        [plain], meta, Priority.standard
    )
    assert extra == pytest.approx(minutes * pricing.LOUDNESS_PER_MINUTE, abs=1e-4)
