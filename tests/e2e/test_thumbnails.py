"""Thumbnail sets: at given times, every N seconds, N evenly spaced; a sprite sheet with its WebVTT index.

Jobs run end to end on the shared stack; every image is downloaded through the folder's signed URLs
and probed, the sprite's size is checked against its grid and the WebVTT index is parsed.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.core import pricing
from tests.helpers import Api, ffprobe, stream, thumbnail_inputs


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return thumbnail_inputs(tmp_path_factory.mktemp("thumbs"))


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


# ---------------------------------------------------------------- the activity -----------------------------


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
