"""Thumbnail sets without a stack: timelines, one ffmpeg process per set, the two strategies and
their equal pictures, spec validation, prices, and the activity in Temporal's ActivityEnvironment."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deps import Deps
from activities.images import ImageActivities
from recast.core import pricing
from recast.core.job import InputMetadata
from recast.core.requests import JobCreate, Priority
from recast.core.specs import OutputSpec, ThumbnailsSpec
from recast.infra import config
from recast.media import thumbnails, tools
from tests.helpers import place_input, request, thumbnail_inputs


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return thumbnail_inputs(tmp_path_factory.mktemp("thumbs"))


def _meta(seconds: float, fps: float = 10) -> InputMetadata:
    return InputMetadata(
        duration_ms=round(seconds * 1000), width=320, height=180, framerate=fps, file_size_bytes=1
    )


def test_timelines() -> None:
    count = thumbnails.thumbnail_timeline(ThumbnailsSpec(count=4), _meta(8))
    assert count.times == [1, 3, 5, 7] and count.starts == [0, 2, 4, 6]
    every = thumbnails.thumbnail_timeline(ThumbnailsSpec(interval=3), _meta(8))
    assert every.times == every.starts == [0, 3, 6]
    at = thumbnails.thumbnail_timeline(ThumbnailsSpec(times=[5, 1, 30]), _meta(8))
    assert at.times == [1, 5, 8 - 0.15] and at.starts == [0, 5, 30]  # past the end: the last frame
    with pytest.raises(tools.MediaError, match="120 images") as err:
        thumbnails.thumbnail_timeline(ThumbnailsSpec(interval=0.1), _meta(12))
    assert err.value.code == "too-many-thumbnails"
    with pytest.raises(tools.MediaError, match="same frame"):
        thumbnails.thumbnail_timeline(ThumbnailsSpec(times=[20, 30]), _meta(8))


def test_one_ffmpeg_process_per_set(clip: dict[str, Path], tmp_path: Path) -> None:
    spec = OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"count": 7, "sprite": True}})
    plan = thumbnails.thumbnails_plan(spec, _meta(4), clip["video"], tmp_path)
    assert plan.args.count("ffmpeg") == 1 and plan.args.count("-i") == 1  # one process, one decode
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert "select=" in graph and "split=2" in graph and "tile=7x1" in graph
    assert (plan.columns, plan.rows, len(plan.images)) == (7, 1, 7)


def test_strategies() -> None:
    # A seek per picture only for a few pictures far apart; else one decode.
    assert thumbnails.choose_strategy(10, 3600) == "seek" and thumbnails.choose_strategy(1, 6.5) == "seek"
    assert thumbnails.choose_strategy(11, 3600) == "decode"  # memory: one open input per picture
    assert thumbnails.choose_strategy(10, 59) == "decode"  # less than 6 s apart


@pytest.mark.parametrize("fmt", ["jpg", "webp"])
def test_both_strategies_make_the_same_pictures(clip: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    spec = OutputSpec.model_validate(
        {"type": "thumbnails", "thumbnails": {"times": [0, 4.05, 10.5], "format": fmt, "sprite": True}}
    )
    meta = InputMetadata.model_validate(_meta(11).model_dump() | {"width": 160, "height": 90})
    made = {}
    for strategy in ("decode", "seek"):
        folder = tmp_path / strategy
        folder.mkdir()
        plan = thumbnails.thumbnails_plan(spec, meta, clip["long"], folder, strategy)
        assert plan.strategy == strategy and plan.args.count("-i") == (1 if strategy == "decode" else 3)
        subprocess.run(plan.args, check=True, capture_output=True)
        thumbnails.check_sequence(asyncio.run(thumbnails.probe_sequence(folder, f"thumb_%04d.{fmt}")), plan)
        made[strategy] = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(made["seek"]) == [f"sprite.{fmt}", *(f"thumb_{i:04d}.{fmt}" for i in (1, 2, 3))]
    assert made["seek"] == made["decode"]  # the very same frames, encoded alike


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"count": 3, "interval": 2}, "exactly one of times, interval or count (got interval, count)"),
        ({"width": 100}, "exactly one of times, interval or count"),
        ({"count": 3, "format": "avif"}, "'jpg', 'png' or 'webp'"),
        ({"count": 3, "format": "gif"}, "'jpg', 'png' or 'webp'"),
        ({"count": 101}, "less than or equal to 100"),
        ({"interval": 0}, "greater than or equal to 0.1"),
        ({"times": [1, 1.0]}, "different"),
        ({"times": []}, "at least 1 item"),
        ({"count": 2, "format": "png", "quality": 50}, "lossless png"),
        ({"count": 20, "format": "webp", "width": 1920, "sprite": {"columns": 20}}, "at most 16383"),
        ({"count": 2, "sprite": {"columns": 0}}, "greater than or equal to 1"),
    ],
)
def test_invalid_thumbnails_specs(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ThumbnailsSpec.model_validate(spec)


def test_thumbnail_prices() -> None:
    specs = [
        OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"interval": 2, "sprite": True}}),
        OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"times": [1, 2, 3]}}),
    ]
    # 10 s: 5 images + the sprite, then 3 images.
    assert pricing.estimate(specs, _meta(10), Priority.standard) == round(9 * pricing.THUMBNAIL_PRICE, 4)
    job = JobCreate.model_validate({"input_url": "https://example.com/a.mp4", "thumbnails": [{"count": 2}]})
    assert [o.type.value for o in job.outputs] == ["thumbnails"] and job.thumbnails == []


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    deps = Deps.from_settings(
        config.Settings(data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s")
    )
    yield deps
    deps.probes.close()  # as the worker does at shutdown


def test_make_thumbnails_activity_stores_the_folder_and_cleans_scratch(
    deps: Deps, clip: dict[str, Path]
) -> None:
    key = "acme/jobs/job_th/input/four.mp4"
    place_input(deps, clip["video"], key)
    spec = {"type": "thumbnails", "thumbnails": {"interval": 1, "width": 64, "sprite": {"columns": 2}}}
    req = request(deps, clip["video"], spec, "job_th")
    req.input_key = key
    beats: list[dict[str, Any]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details[0])
    result = asyncio.run(env.run(ImageActivities(deps).make_thumbnails, req))
    assert result.storage_key == "acme/jobs/job_th/outputs/out_1/" and result.entry == "thumbnails.vtt"
    names = [f.name for f in result.files]
    assert names == ["sprite.jpg", *(f"thumb_{i:04d}.jpg" for i in range(1, 5)), "thumbnails.vtt"]
    for f in result.files:
        stored = deps.storage.local_path(result.storage_key + f.name)
        assert stored is not None and stored.stat().st_size == f.size > 0
    assert result.file_size_bytes == sum(f.size for f in result.files)
    assert beats and all(b["output_id"] == "out_1" for b in beats)
    assert not [p for p in (deps.scratch / "work").rglob("*") if p.is_file()], (
        "scratch files were left behind"
    )


def test_make_thumbnails_activity_fails_for_good_on_bad_media(deps: Deps, clip: dict[str, Path]) -> None:
    key = "acme/jobs/job_th2/input/eleven.mp4"
    place_input(deps, clip["long"], key)
    req = request(deps, clip["long"], {"type": "thumbnails", "thumbnails": {"interval": 0.1}}, "job_th2")
    req.input_key = key
    with pytest.raises(ApplicationError) as err:
        asyncio.run(ActivityEnvironment().run(ImageActivities(deps).make_thumbnails, req))
    assert err.value.type == "too-many-thumbnails" and err.value.non_retryable
    assert not [p for p in (deps.scratch / "work").rglob("*") if p.is_file()]
