"""Watermarks, end to end on the shared stack: compared pixel by pixel against the same output made
without one — changed inside the watermark's box while it shows, unchanged outside it and outside its
time window — on a single file and on every rung of an HLS ladder (scaled per rung); fetched like an
input (the address rules, uploads), and refused when it is not a picture.

The input is a flat grey picture and the watermark an opaque red one, so H.264 at `premium` gives
back the grey within a level or two wherever the watermark is not: the tolerances below are a few
levels, the watermark's change is over a hundred.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from recast.core import pricing
from recast.core.formats import Quality, VideoCodec
from recast.core.requests import Priority
from recast.media.streaming import read_hls
from tests.helpers import Api, make_with_ffmpeg, serving, upload_form

GREY = (128, 128, 128)
RED = (255, 0, 0)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("watermark")
    video = d / "grey.mp4"  # 2 s, 640x360, 10 fps, flat grey, with a tone
    make_with_ffmpeg(
        "-f", "lavfi", "-i", "color=c=0x808080:s=640x360:r=10:d=2",
        "-f", "lavfi", "-i", "sine=duration=2", "-shortest",
        "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video),
    )  # fmt: skip
    logo = d / "logo.png"
    Image.new("RGB", (100, 50), RED).save(logo)
    clip = d / "not-a-picture.mp4"
    make_with_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=1", str(clip))
    return {"video": video, "logo": logo, "clip": clip, "folder": d}


def frame(path: Path, n: int, dest: Path) -> Image.Image:
    """Frame number `n` of a video, decoded by ffmpeg to RGB."""
    out = dest.with_name(f"{dest.stem}-{n}.png")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(path), "-vf", f"select=eq(n\\,{n})", "-frames:v", "1", str(out)],
        check=True,
    )  # fmt: skip
    return Image.open(out).convert("RGB")


def mean_diff(a: Image.Image, b: Image.Image, region: tuple[int, int, int, int]) -> float:
    pa, pb = a.crop(region).tobytes(), b.crop(region).tobytes()
    return sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) / len(pa)


def outside(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int], pad: int = 16) -> float:
    """The largest mean difference of the four bands around `box` (grown by `pad`: the codec's blocks
    on the box's edge may change a little)."""
    x0, y0, x1, y1 = max(0, box[0] - pad), max(0, box[1] - pad), box[2] + pad, box[3] + pad
    w, h = a.size
    bands = [(0, 0, w, y0), (0, y1, w, h), (0, y0, x0, y1), (x1, y0, w, y1)]
    return max(mean_diff(a, b, r) for r in bands if r[2] > r[0] and r[3] > r[1])


def inset(box: tuple[int, int, int, int], by: int = 4) -> tuple[int, int, int, int]:
    return box[0] + by, box[1] + by, box[2] - by, box[3] - by


def close(pixel: Any, want: tuple[int, int, int], tolerance: int = 14) -> bool:
    """An RGB pixel (as Pillow's getpixel gives it) within `tolerance` of `want` on every channel."""
    return all(abs(p - w) <= tolerance for p, w in zip(tuple(pixel), want, strict=False))


def test_watermark_changes_only_its_box_and_time_window(
    api: Api, media: dict[str, Path], tmp_path: Path
) -> None:
    plain = {"type": "mp4", "video": {"codec": "h264", "quality": "premium"}}
    with serving(media["folder"]) as server:
        mark = {"image": f"{server.url}/logo.png", "position": "top-right", "margin": 20, "width": 0.25}
        outputs: list[dict[str, Any]] = [
            plain,
            {**plain, "watermark": {**mark, "start": 0.5, "end": 1.5}},
            {**plain, "watermark": {**mark, "position": "center", "opacity": 0.5}},
        ]
        job = api.wait(api.submit(media["video"], outputs)["id"])
    assert job["status"] == "completed", job
    files = [tmp_path / f"out{i}.mp4" for i in range(3)]
    for i, f in enumerate(files):
        api.download(job["id"], job["outputs"][i]["id"], f)

    # 25 % of 640 = 160 wide; the 2:1 logo is then 80 tall; 20 px from the top and right edges.
    box = (640 - 160 - 20, 20, 640 - 20, 20 + 80)
    for n, shown in ((2, False), (10, True), (18, False)):  # 0.2 s, 1.0 s, 1.8 s
        ref, marked = frame(files[0], n, tmp_path / "ref"), frame(files[1], n, tmp_path / "marked")
        assert outside(ref, marked, box) < 2.0, n
        inside = mean_diff(ref, marked, inset(box))
        if shown:
            assert inside > 100, n
            assert close(marked.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)), RED)
        else:
            assert inside < 2.0, n

    # Centred at half opacity: red over grey, half and half, in the middle of the frame.
    centre = (320 - 80, 180 - 40, 320 + 80, 180 + 40)
    ref, faded = frame(files[0], 5, tmp_path / "ref"), frame(files[2], 5, tmp_path / "faded")
    assert close(faded.getpixel((320, 180)), (191, 64, 64)) and outside(ref, faded, centre) < 2.0
    # A watermark costs nothing extra: three 2 s outputs priced as plain H.264 premium at 360 lines.
    per_minute = pricing.rate(VideoCodec.h264, 360, Quality.premium, Priority.standard)
    assert job["total_actual_cost"] == round(3 * 2 / 60 * per_minute, 4)


def test_every_rung_of_a_ladder_gets_it_at_its_size(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    ticket = api.http.post(
        "/v1/uploads",
        json={"filename": "logo.png", "size": media["logo"].stat().st_size, "content_type": "image/png"},
    ).json()
    assert httpx.put(ticket["url"], content=media["logo"].read_bytes(), timeout=30).status_code in (
        200,
        201,
        204,
    )
    spec = {
        "type": "hls",
        "video": [{"codec": "h264", "height": 360, "quality": "premium"}, {"codec": "h264", "height": 180}],
        "watermark": {
            "image": f"upload://{ticket['upload_id']}",
            "position": "bottom-left",
            "margin": 20,
            "width": 0.25,
        },
    }
    job = api.wait(api.submit(media["video"], [spec])["id"])
    assert job["status"] == "completed", job
    out = job["outputs"][0]
    link = api.http.get(f"/v1/jobs/{job['id']}/outputs/{out['id']}/download").json()
    folder = tmp_path / "hls"
    for f in link["files"]:
        (folder / f["name"]).parent.mkdir(parents=True, exist_ok=True)
        (folder / f["name"]).write_bytes(httpx.get(f["url"], timeout=30).content)
    rungs, _ = read_hls(folder)
    for rung in rungs:
        assert rung.init is not None
        whole = tmp_path / f"{rung.height}.mp4"  # init segment + first media segment: a playable file
        whole.write_bytes((folder / rung.init).read_bytes() + (folder / rung.segments[0][0]).read_bytes())
        picture = frame(whole, 3, tmp_path / f"r{rung.height}")
        assert rung.width is not None and rung.height is not None
        scale = rung.width / 640
        w, h, margin = round(160 * scale), round(80 * scale), round(20 * scale)
        box = (margin, rung.height - h - margin, margin + w, rung.height - margin)
        assert close(picture.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)), RED), rung.height
        # Just outside the box, on every side but the frame's edge: still grey.
        for x, y in (
            (box[2] + 3, box[1] + h // 2),
            (box[0] + w // 2, box[1] - 4),
            (box[0] - 4 if margin > 6 else box[2] + 6, box[1] + 2),
        ):
            assert close(picture.getpixel((x, y)), GREY), (rung.height, x, y)


def test_watermark_is_fetched_like_an_input(api: Api, media: dict[str, Path]) -> None:
    video = {"type": "mp4", "video": {"codec": "h264"}}
    for url, code, says in (
        ("http://169.254.169.254/logo.png", "forbidden-url", "outputs[0].watermark.image"),
        ("upload://up_doesnotexist", "not-found", "outputs[0].watermark.image"),
        ("file:///etc/passwd", "invalid-input", "http(s)://, s3://, gs:// or upload://"),
    ):
        resp = api.upload(media["video"], [{**video, "watermark": {"image": url}}])
        assert resp.status_code in (400, 404), resp.text
        assert resp.json()["error"]["code"] == code and says in resp.json()["error"]["message"], resp.text
    resp = api.upload(media["video"], [{"type": "mp3", "watermark": {"image": "https://example.com/a.png"}}])
    assert resp.status_code == 400
    assert (
        "only for video outputs (mp4, webm, mkv, mov, hls, dash), not mp3" in resp.json()["error"]["message"]
    )


def test_a_watermark_that_is_not_a_picture_fails_the_output(api: Api, media: dict[str, Path]) -> None:
    with serving(media["folder"]) as server:
        outputs: list[dict[str, Any]] = [
            {
                "type": "mp4",
                "video": {"codec": "h264"},
                "watermark": {"image": f"{server.url}/not-a-picture.mp4"},
            },
            {"type": "mp4", "video": {"codec": "h264"}, "watermark": {"image": f"{server.url}/missing.png"}},
            {"type": "mp3"},
        ]
        job = api.wait(api.submit(media["video"], outputs)["id"])
    assert job["status"] == "partial", job
    first, second, _ = job["outputs"]
    assert first["error_code"] == "invalid-watermark" and "not a still picture" in first["error_message"]
    assert second["error_code"] == "input-unreachable" and second["error_message"].startswith(
        "watermark image:"
    )


def test_the_time_window_counts_from_the_clip_start(api: Api, media: dict[str, Path], tmp_path: Path) -> None:
    plain = {"type": "mkv", "video": {"codec": "h264", "quality": "premium"}, "audio": {"enabled": False}}
    with serving(media["folder"]) as server:
        mark = {"image": f"{server.url}/logo.png", "position": "top-left", "start": 0.5, "end": 1.0}
        resp = upload_form(api, media["video"], [plain, {**plain, "watermark": mark}], clip='{"start": 0.5}')
        assert resp.status_code == 202, resp.text
        job = api.wait(resp.json()["id"])
    assert job["status"] == "completed", job
    files = [tmp_path / "a.mkv", tmp_path / "b.mkv"]
    for out, f in zip(job["outputs"], files, strict=True):
        api.download(job["id"], out["id"], f)
    box = (16, 16, 16 + 96, 16 + 48)  # 15 % of 640, even: 96 wide, 48 tall; the default 16 px margin
    for n, shown in ((2, False), (7, True), (12, False)):  # 0.2, 0.7 and 1.2 s into the clip
        ref, marked = frame(files[0], n, tmp_path / "ref"), frame(files[1], n, tmp_path / "marked")
        assert (mean_diff(ref, marked, inset(box)) > 100) is shown, n
        assert outside(ref, marked, box) < 2.0, n
