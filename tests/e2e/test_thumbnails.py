"""Thumbnail sets: at given times, every N seconds, N evenly spaced; a sprite sheet with its WebVTT index.

Jobs run end to end on the shared stack; every image is downloaded through the folder's signed URLs
and probed, the sprite's size is checked against its grid and the WebVTT index is parsed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
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
from tests.helpers import Api, ffprobe, make_clip, make_with_ffmpeg, place_input, request, stream


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("thumbs")
    still = d / "still.png"
    make_with_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(still))
    return {
        "video": make_clip(d / "four.mp4", seconds=4, size="320x180", rate=10),
        "long": make_clip(d / "eleven.mp4", seconds=11, size="160x90", audio=False, rate=10),
        "still": still,
    }


def _meta(seconds: float, fps: float = 10) -> InputMetadata:
    return InputMetadata(
        duration_ms=round(seconds * 1000), width=320, height=180, framerate=fps, file_size_bytes=1
    )


def _files(api: Api, job_id: str, out: dict[str, Any], dest: Path) -> tuple[str, dict[str, Path]]:
    """Download every file of a folder output through the download route's signed URLs."""
    link = api.http.get(f"/v1/jobs/{job_id}/outputs/{out['id']}/download")
    assert link.status_code == 200, link.text
    body = link.json()
    assert sorted(f["name"] for f in body["files"]) == sorted(f["name"] for f in out["files"])
    got = {}
    dest.mkdir(parents=True, exist_ok=True)
    for f in body["files"]:
        resp = httpx.get(f["url"], timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith(f["content_type"]) and len(resp.content) == f["size"]
        got[f["name"]] = dest / f["name"]
        got[f["name"]].write_bytes(resp.content)
    return body["url"], got


def _size(path: Path) -> tuple[int, int, str]:
    picture = stream(ffprobe(path), "video")
    assert picture is not None
    return picture["width"], picture["height"], picture["codec_name"]


def parse_vtt(text: str) -> list[tuple[float, float, str, tuple[int, int, int, int]]]:
    """(start, end, image, (x, y, w, h)) per cue."""

    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    assert text.startswith("WEBVTT")
    cues = []
    for block in text.strip().split("\n\n")[1:]:
        timing, payload = block.strip().splitlines()
        start, end = (seconds(t.strip()) for t in timing.split("-->"))
        match = re.fullmatch(r"(.+)#xywh=(\d+),(\d+),(\d+),(\d+)", payload)
        assert match, payload
        x, y, w, h = (int(v) for v in match.groups()[1:])
        cues.append((start, end, match.group(1), (x, y, w, h)))
    return cues


# ---------------------------------------------------------------- timelines --------------------------------


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


# ---------------------------------------------------------------- jobs -------------------------------------


@pytest.mark.parametrize(
    ("thumbnails", "count"),
    [
        ({"times": [0.5, 1.5, 3.2], "width": 160}, 3),
        ({"interval": 1, "width": 160, "format": "png"}, 4),
        ({"count": 5, "width": 160, "format": "webp", "quality": 50}, 5),
    ],
)
def test_thumbnails_job(
    api: Api, clip: dict[str, Path], tmp_path: Path, thumbnails: dict[str, Any], count: int
) -> None:
    done = api.wait(api.submit(clip["video"], [{"type": "thumbnails", "thumbnails": thumbnails}])["id"])
    assert done["status"] == "completed", done
    out = done["outputs"][0]
    ext = thumbnails.get("format", "jpg")
    names = [f"thumb_{i:04d}.{ext}" for i in range(1, count + 1)]
    assert [f["name"] for f in out["files"]] == names
    assert out["filename"] == names[0] and (out["width"], out["height"]) == (160, 90)
    entry, files = _files(api, done["id"], out, tmp_path / "files")
    assert entry.endswith("/" + names[0])
    codec = {"jpg": "mjpeg", "png": "png", "webp": "webp"}[ext]
    for name in names:
        assert _size(files[name]) == (160, 90, codec)
    assert done["total_actual_cost"] == round(count * pricing.THUMBNAIL_PRICE, 4)


def test_sprite_and_webvtt_index(api: Api, clip: dict[str, Path], tmp_path: Path) -> None:
    spec = {"type": "thumbnails", "thumbnails": {"count": 5, "width": 80, "sprite": {"columns": 3}}}
    done = api.wait(api.submit(clip["video"], [spec])["id"])
    assert done["status"] == "completed", done
    out = done["outputs"][0]
    assert out["filename"] == "thumbnails.vtt" and out["content_type"] == "text/vtt"
    entry, files = _files(api, done["id"], out, tmp_path / "files")
    assert entry.endswith("/thumbnails.vtt") and set(files) >= {"sprite.jpg", "thumbnails.vtt"}
    assert len([n for n in files if n.startswith("thumb_")]) == 5
    assert _size(files["sprite.jpg"]) == (3 * 80, 2 * 45, "mjpeg")  # 3 columns x 2 rows of 80x45 tiles

    cues = parse_vtt(files["thumbnails.vtt"].read_text())
    assert len(cues) == 5
    assert cues[0][0] == 0 and cues[-1][1] == pytest.approx(done["input_metadata"]["duration_ms"] / 1000)
    for (_, end, _, _), (start, _, _, _) in itertools.pairwise(cues):
        assert end == start  # contiguous: every moment of the timeline has a preview
    for i, (start, end, image, (x, y, w, h)) in enumerate(cues):
        assert start < end and image == "sprite.jpg" and (w, h) == (80, 45)
        assert (x, y) == ((i % 3) * 80, (i // 3) * 45) and x + w <= 240 and y + h <= 90
    # A player resolves the cue's relative URI against the index's URL, under the same token.
    sprite = httpx.get(str(httpx.URL(entry).join("sprite.jpg")), timeout=30)
    assert sprite.status_code == 200 and sprite.content == files["sprite.jpg"].read_bytes()


def test_a_sparse_set_seeks(api: Api, clip: dict[str, Path], tmp_path: Path) -> None:
    spec = {"type": "thumbnails", "thumbnails": {"count": 1, "width": 80, "sprite": True}}  # at 5.5 s of 11
    done = api.wait(api.submit(clip["long"], [spec])["id"])
    assert done["status"] == "completed", done
    _, files = _files(api, done["id"], done["outputs"][0], tmp_path / "files")
    assert sorted(files) == ["sprite.jpg", "thumb_0001.jpg", "thumbnails.vtt"]
    assert _size(files["sprite.jpg"]) == _size(files["thumb_0001.jpg"]) == (80, 45, "mjpeg")
    [(start, end, image, xywh)] = parse_vtt(files["thumbnails.vtt"].read_text())
    assert (start, end, image, xywh) == (0, 11, "sprite.jpg", (0, 0, 80, 45))


def test_top_level_thumbnails_become_outputs(api: Api, clip: dict[str, Path]) -> None:
    with clip["video"].open("rb") as fh:
        resp = api.http.post(
            "/v1/jobs",
            files={"media": ("four.mp4", fh, "video/mp4")},
            data={
                "outputs": json.dumps([{"type": "jpg", "image": {"width": 64}}]),
                "thumbnails": json.dumps([{"count": 2, "width": 64}, {"times": [1], "width": 32}]),
            },
        )
    assert resp.status_code == 202, resp.text
    assert [o["type"] for o in resp.json()["outputs"]] == ["jpg", "thumbnails", "thumbnails"]
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed", done
    assert [len(o["files"]) for o in done["outputs"][1:]] == [2, 1]
    assert [o["width"] for o in done["outputs"]] == [64, 64, 32]


def test_thumbnails_only_job(api: Api, clip: dict[str, Path]) -> None:
    with clip["video"].open("rb") as fh:
        resp = api.http.post(
            "/v1/jobs",
            files={"media": ("four.mp4", fh, "video/mp4")},
            data={"thumbnails": json.dumps([{"interval": 2}])},
        )
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed" and len(done["outputs"][0]["files"]) == 2
    assert done["outputs"][0]["width"] == 320  # the 320 default, never upscaled


def test_thumbnails_that_cannot_be_made_fail_clearly(api: Api, clip: dict[str, Path]) -> None:
    of_image = api.wait(api.submit(clip["still"], [{"type": "thumbnails", "thumbnails": {"count": 2}}])["id"])
    assert of_image["status"] == "failed" and of_image["error_code"] == "image-input"
    too_many: list[dict[str, Any]] = [
        {"type": "thumbnails", "thumbnails": {"interval": 0.1}},
        {"type": "jpg"},
    ]
    done = api.wait(api.submit(clip["long"], too_many)["id"])
    assert done["status"] == "partial"
    failed = done["outputs"][0]
    assert failed["error_code"] == "too-many-thumbnails" and "110 images" in failed["error_message"]


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


def test_invalid_thumbnails_are_400(api: Api, clip: dict[str, Path]) -> None:
    six = [{"count": 1}] * 6
    for fields, message in (
        ({"thumbnails": json.dumps(six)}, "thumbnails: List should have at most 5 items"),
        (
            {
                "outputs": json.dumps([{"type": "thumbnails", "thumbnails": {"count": 1}}] * 3),
                "thumbnails": json.dumps([{"count": 1}] * 3),
            },
            "at most 5 thumbnails specs per job, got 6",
        ),
        (
            {"thumbnails": json.dumps([{"count": 2, "interval": 1}])},
            "exactly one of times, interval or count",
        ),
        ({"outputs": json.dumps([{"type": "thumbnails"}])}, "needs `thumbnails`"),
        ({"outputs": "[]"}, "at least one output (or thumbnails) is required"),
    ):
        with clip["video"].open("rb") as fh:
            resp = api.http.post("/v1/jobs", files={"media": ("four.mp4", fh, "video/mp4")}, data=fields)
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["code"] == "invalid-input" and message in error["message"], error


def test_thumbnail_prices() -> None:
    specs = [
        OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"interval": 2, "sprite": True}}),
        OutputSpec.model_validate({"type": "thumbnails", "thumbnails": {"times": [1, 2, 3]}}),
    ]
    # 10 s: 5 images + the sprite, then 3 images.
    assert pricing.estimate(specs, _meta(10), Priority.standard) == round(9 * pricing.THUMBNAIL_PRICE, 4)
    job = JobCreate.model_validate({"input_url": "https://example.com/a.mp4", "thumbnails": [{"count": 2}]})
    assert [o.type.value for o in job.outputs] == ["thumbnails"] and job.thumbnails == []


# ---------------------------------------------------------------- the activity -----------------------------


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


def test_templated_paths(api: Api, clip: dict[str, Path], stack_storage: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "thumbnails", "thumbnails": {"count": 2, "width": 32}},
        {"type": "png"},
    ]
    resp = api.upload(clip["video"], outputs, output_path_template="tpl/{job_id}/{format}-{resolution}")
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed", done
    folder, png = done["outputs"]
    assert folder["path"] == f"tpl/{done['id']}/thumbnails-32w" and png["path"].endswith("/png-source.png")
    stored = stack_storage / "acme" / "outputs" / folder["path"]
    assert sorted(p.name for p in stored.iterdir()) == ["thumb_0001.jpg", "thumb_0002.jpg"]
    assert (stack_storage / "acme" / "outputs" / png["path"]).stat().st_size == png["file_size_bytes"]
