"""Background removal's pure parts: the `background` option's checks, the border-colour vote, the
ffmpeg filters it adds, its price; and Hypervideo's mapping of a native job (statuses, stages, ranges)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.compat.hypervideo_request import formats_of, output_format, translator
from api.compat.hypervideo_shape import STAGE_RANGES, job_data
from api.errors import ApiError
from api.multipart_stream import StoredUpload
from api.services.submission import Translate
from recast.core import pricing
from recast.core.background import RgbColor
from recast.core.job import InputInfo, InputMetadata, Job, JobStatus, Output, Stage
from recast.core.requests import Priority
from recast.core.specs import OutputSpec
from recast.media import renditions
from recast.media.background import dominant_border_color

META = InputMetadata(duration_ms=60_000, width=1280, height=720, codec="h264", file_size_bytes=1)


def spec(**fields: object) -> OutputSpec:
    return OutputSpec.model_validate({"type": "webm", "video": {"codec": "vp9"}, **fields})


def test_colour_is_normalised_and_checked() -> None:
    assert spec(background={"color": "20c040"}).background.color == "#20C040"  # type: ignore[union-attr]
    assert RgbColor.parse("#E92FBC") == RgbColor(r=233, g=47, b=188, hex="#E92FBC")
    with pytest.raises(ValidationError, match="auto` or #RRGGBB"):
        spec(background={"color": "green"})
    with pytest.raises(ValidationError):
        spec(background={"similarity": 0})


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"type": "mp4", "video": {"codec": "h264"}}, "webm or mkv with vp9"),
        ({"type": "webm", "video": {"codec": "av1"}}, "cannot carry an alpha channel"),
        ({"type": "hls", "video": {"codec": "h264"}}, "single-file video outputs"),
        ({"type": "mp3"}, "single-file video outputs"),
        ({"type": "png"}, "video outputs, not png"),
    ],
)
def test_outputs_that_cannot_carry_it_are_refused(output: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OutputSpec.model_validate({**output, "background": {}})


def test_stacked_goes_in_any_video_output_and_remove_false_is_off() -> None:
    stacked = OutputSpec.model_validate(
        {"type": "mp4", "video": {"codec": "h264"}, "background": {"layout": "stacked"}}
    )
    assert stacked.background is not None
    assert spec(background={"remove": False}).background is None
    # A dumped spec validates back unchanged (it travels in workflow payloads).
    assert OutputSpec.model_validate(stacked.model_dump()) == stacked


def test_plan_keys_out_and_stacks(tmp_path: Path) -> None:
    green = RgbColor.of(32, 192, 64)
    alpha = renditions.encode_plan(
        spec(background={}), META, tmp_path / "in.mp4", tmp_path / "o.webm", key_color=green
    )
    args = " ".join(alpha.args)
    assert "colorkey=" in args and "color=0x20C040" in args and "yuva420p" in args and "vstack" not in args
    assert (alpha.width, alpha.height) == (1280, 720)
    stacked = renditions.encode_plan(
        OutputSpec.model_validate(
            {"type": "mp4", "video": {"codec": "h264"}, "background": {"layout": "stacked"}}
        ),
        META,
        tmp_path / "in.mp4",
        tmp_path / "o.mp4",
        key_color=green,
    )
    assert "alphaextract" in " ".join(stacked.args) and "vstack" in " ".join(stacked.args)
    assert (stacked.width, stacked.height) == (1280, 1440)


def frames(border: tuple[int, int, int], inside: tuple[int, int, int], n: int = 3) -> bytes:
    raw = bytearray()
    for _ in range(n):
        for y in range(24):
            for x in range(32):
                raw.extend(inside if 4 <= x < 28 and 4 <= y < 20 else border)
    return bytes(raw)


def test_the_border_colour_wins() -> None:
    assert dominant_border_color(frames((233, 47, 188), (0, 0, 0)), 32, 24) == RgbColor.of(233, 47, 188)


def test_no_dominant_border_colour_is_none() -> None:
    raw = bytearray()
    for i in range(32 * 24):
        raw.extend(((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    assert dominant_border_color(bytes(raw), 32, 24) is None


def test_price_adds_background_and_stacked_height() -> None:
    plain = pricing.estimate([spec()], META, Priority.standard)
    keyed = pricing.estimate([spec(background={})], META, Priority.standard)
    assert keyed == pytest.approx(plain + pricing.BACKGROUND_PER_MINUTE)
    stacked = OutputSpec.model_validate(
        {"type": "mp4", "video": {"codec": "h264"}, "background": {"layout": "stacked"}}
    )
    # 720 lines stacked are 1440 encoded: priced in the 2160 row.
    want = pricing.rate(stacked.video[0].codec, 1440, stacked.video[0].quality, Priority.standard)
    assert pricing.estimate([stacked], META, Priority.standard) == pytest.approx(
        want + pricing.BACKGROUND_PER_MINUTE
    )


def test_formats() -> None:
    assert formats_of(None, None) == ["webm", "stacked-alpha"]
    assert formats_of(None, "webm") == ["webm"]
    assert formats_of("webm,stacked-alpha,webm", None) == ["webm", "stacked-alpha"]
    assert formats_of('["stacked-alpha"]', None) == ["stacked-alpha"]
    assert formats_of(["webm"], None) == ["webm"]
    with pytest.raises(ApiError, match="supported: webm, stacked-alpha"):
        formats_of(None, "mov")
    with pytest.raises(ApiError, match="both"):
        formats_of('["webm"]', "webm")
    assert output_format("stacked-alpha", {"color": "#00FF00"})["background"] == {
        "color": "#00FF00",
        "layout": "stacked",
    }


def job(status: JobStatus, stage: Stage, progress: int) -> Job:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Job(
        id="job_1",
        organization="acme",
        status=status,
        stage=stage,
        progress=progress,
        input=InputInfo(),
        outputs=[Output(id="out_1", type="webm")],  # type: ignore[arg-type]
        created_at=now,
        updated_at=now,
    )


def test_statuses_stages_and_progress_ranges() -> None:
    steps = [
        (JobStatus.pending, Stage.queued, 0, "submitted", "queued-on-railway"),
        (JobStatus.pending, Stage.fetching, 5, "processing", "loading-input"),
        (JobStatus.probing, Stage.probing, 12, "processing", "loading-input"),
        (JobStatus.processing, Stage.encoding, 15, "processing", "processing-video"),
        (JobStatus.processing, Stage.encoding, 60, "processing", "processing-video"),
        (JobStatus.processing, Stage.encoding, 94, "processing", "processing-video"),
        (JobStatus.processing, Stage.uploading, 94, "processing", "uploading-outputs"),
        (JobStatus.processing, Stage.finalizing, 98, "processing", "uploading-outputs"),
        (JobStatus.completed, Stage.done, 100, "completed", None),
    ]
    last = 0
    for status, stage, progress, want_status, want_stage in steps:
        data = job_data(job(status, stage, progress), {})
        assert (data.status, data.stage) == (want_status, want_stage), (status, stage)
        if data.stage is not None:
            low, high = STAGE_RANGES[data.stage]
            assert low <= data.progress <= high
        assert data.progress >= last
        last = data.progress
    assert last == 100
    failed = job(JobStatus.failed, Stage.done, 100)
    failed.error_code, failed.error_message = "no-solid-background", "no single colour"
    data = job_data(failed, {})
    assert data.status == "failed" and data.error is not None and data.error.code == "PROCESSING_FAILED"
    assert "(no-solid-background)" in data.error.message
    assert data.result is None


UPLOAD = StoredUpload(key="acme/uploads/v.mp4", filename="v.mp4", size=1)


def run(translate: Translate, raw: dict[str, object], upload: StoredUpload | None) -> dict[str, object]:
    async def call() -> dict[str, object]:
        return await translate(raw, upload)

    return asyncio.run(call())


def test_sdk_fields_become_the_native_submission() -> None:
    translate = translator()
    native = run(
        translate,
        {
            "formats": '["stacked-alpha"]',
            "tolerance": "20",
            "chromaKey": '{"r":0,"g":255,"b":0}',
            "fps": "24",
        },
        UPLOAD,
    )
    assert native == {
        "outputs": [
            {
                "type": "mp4",
                "video": {"codec": "h264", "framerate": 24},
                "background": {"similarity": 0.1, "color": "#00FF00", "layout": "stacked"},
            }
        ],
    }
    assert (
        run(translate, {"url": "https://example.com/v.mp4"}, None)["input_url"] == "https://example.com/v.mp4"
    )
    assert run(translate, {"inputStorageId": "up_x"}, None)["input_url"] == "upload://up_x"
    for raw, code in [
        ({"tolerance": "101"}, "INVALID_TOLERANCE"),
        ({"tolerance": "2.5"}, "INVALID_TOLERANCE"),
        ({"fps": "0"}, "INVALID_FPS"),
        ({"chromaKey": '{"r":0,"g":256,"b":0}'}, "INVALID_CHROMA_KEY"),
        ({"format": "webp"}, "INVALID_FORMATS"),
    ]:
        with pytest.raises(ApiError) as caught:
            run(translate, dict(raw), UPLOAD)
        assert caught.value.code == code, raw
    with pytest.raises(ApiError, match="Either 'file', 'url', or 'inputStorageId'"):
        run(translate, {"url": "https://example.com/v.mp4"}, UPLOAD)
