"""Remux, verification and quality metrics end to end: one job through the API with a copied output, an
encoded one measured, a measured ladder; the 400s for metrics where there is no video to measure.
Each part is tested on its own (real ffmpeg, no stack) in tests/unit/test_quality.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recast.core import pricing
from recast.core.job import Output
from recast.core.requests import Priority
from tests.helpers import Api, make_tone, packets, stream_md5, top_level_boxes, web_clip


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return web_clip(tmp_path_factory.mktemp("web") / "web.mp4")


def test_a_job_with_a_remux_and_measured_encodes(api: Api, web: Path, tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"type": "mp4", "video": {"codec": "h264"}},
        {"type": "mp4", "video": {"codec": "h264", "height": 240}, "metrics": ["ssim", "psnr"]},
        {
            "type": "hls",
            "video": [{"codec": "h264", "height": 240}, {"codec": "h264", "height": 180}],
            "metrics": ["ssim"],
        },
    ]
    job = api.wait(api.submit(web, outputs)["id"], timeout=180)
    assert job["status"] == "completed", job
    copied, measured, ladder = job["outputs"]
    assert copied["strategy"] == "remux-mp4-h264" and copied["quality"] == []
    assert measured["strategy"] == "video-mp4-h264" and ladder["strategy"] == "video-hls-h264"
    api.fetch_output(job, 0, tmp_path / "copied.mp4")
    assert packets(tmp_path / "copied.mp4") == packets(web)
    assert stream_md5(tmp_path / "copied.mp4") == stream_md5(web)
    assert top_level_boxes(tmp_path / "copied.mp4")[:2] == ["ftyp", "moov"]
    (q,) = measured["quality"]
    assert (q["width"], q["height"], q["frames"]) == (426, 240, 60)
    assert 0.9 < q["ssim"]["min"] <= q["ssim"]["mean"] <= 1 and 30 < q["psnr"]["mean"] < 60
    assert [(r["height"], r["psnr"]) for r in ladder["quality"]] == [(240, None), (180, None)]
    assert all(0.9 < r["ssim"]["mean"] <= 1 for r in ladder["quality"])
    # The copy is charged the remux rate; the measured outputs their encode plus their measured variants.
    minutes = copied["duration_ms"] / 60_000
    assert job["total_actual_cost"] < job["total_estimated_cost"]
    copy_cost = pricing.actual([Output.model_validate(copied)], Priority.standard)
    assert copy_cost == pytest.approx(round(pricing.REMUX_PER_MINUTE * minutes, 4))


@pytest.mark.parametrize(
    ("output", "says"),
    [
        (
            {"type": "mp3", "metrics": ["ssim"]},
            "metrics are measured on video outputs (mp4, webm, mkv, mov, hls, dash), not mp3",
        ),
        ({"type": "jpg", "metrics": ["psnr"]}, "not jpg"),
        ({"type": "thumbnails", "thumbnails": {"count": 2}, "metrics": ["ssim"]}, "not thumbnails"),
        ({"type": "mp4", "video": {"codec": "h264"}, "metrics": ["vmaf"]}, "libvmaf"),
        ({"type": "mp4", "video": {"codec": "h264"}, "metrics": ["vmaf"]}, "allowed: ssim, psnr"),
    ],
)
def test_metrics_where_there_is_no_video_are_400(
    api: Api, tmp_path: Path, output: dict[str, object], says: str
) -> None:
    resp = api.upload(make_tone(tmp_path / "tone.m4a"), [output])
    assert resp.status_code == 400, resp.text
    assert says in resp.json()["error"]["message"]
