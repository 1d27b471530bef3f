"""Hypervideo's async jobs API on Recast (docs/compat/hypervideo.md), replayed from its document
(/work/shared/reference/hypervideo-async-jobs.txt): the curl submit and poll loop, the SDK's submit with
`formats: ['webm', 'stacked-alpha']` (as the HTTP request it makes: the `@hypervideo-dev/sdk` package is
not installable here), the completed job checked field by field against the document's example, access
control by key, and the `{"success", "data"}` envelope on errors too.

The media is checked as a user would: a solid green clip with a moving picture on it, its background
colour detected, the WebM decoded with libvpx-vp9 (ffmpeg's native VP9 decoder drops alpha) to see the
background transparent and the picture opaque, the stacked-alpha MP4 twice as tall with its mask below.

An API and worker of their own, with two keys of one organization and one of another.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, ffprobe, keyed_clip, own_api
from tests.helpers.js import JS_DIR, NODE_MODULES

KEY, SAME_ORG_KEY, OTHER_ORG_KEY = "hc_first-key", "hc_second-key", "hc_other-org-key"
GREEN = (0x20, 0xC0, 0x40)
STATUSES = {"queued", "submitted", "processing", "completed", "failed"}
# The document's stages and their progress ranges.
STAGES = {
    "queued-on-railway": (0, 10),
    "loading-input": (10, 25),
    "processing-video": (25, 85),
    "uploading-outputs": (85, 100),
}
# The document's completed response, as published.
COMPLETED_EXAMPLE: dict[str, Any] = {
    "success": True,
    "data": {
        "jobId": "jd7abc123def456",
        "type": "video",
        "status": "completed",
        "progress": 100,
        "stage": None,
        "createdAt": 1710000000,
        "startedAt": 1710000010,
        "completedAt": 1710000070,
        "error": None,
        "result": {
            "outputUrl": "https://storage-signed-url...",
            "outputFormat": "webm",
            "outputSize": 1597805,
            "width": 768,
            "height": 768,
            "processingTimeMs": 12500,
            "detectedBackgroundColor": {"r": 233, "g": 47, "b": 188, "hex": "#E92FBC"},
            "outputs": [
                {"format": "webm", "url": "https://...", "size": 1597805},
                {"format": "stacked-alpha", "url": "https://...", "size": 5242880},
            ],
        },
    },
}


@pytest.fixture(scope="module")
def base_url(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = f"{KEY}=acme,{SAME_ORG_KEY}=acme,{OTHER_ORG_KEY}=globex"
    with own_api(
        temporal, tmp_path_factory.mktemp("hypervideo"), "recast-hypervideo", RECAST_API_KEYS=keys
    ) as api:
        yield api.base_url


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return keyed_clip(
        tmp_path_factory.mktemp("hv-media") / "video.mp4", "0x{:02X}{:02X}{:02X}".format(*GREEN)
    )


def client(base_url: str, key: str | None = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


def same_shape(got: Any, example: Any, where: str = "") -> None:
    """`got` has exactly the example's fields, recursively, each of the example's JSON type (a null in
    the example allows any value; a list is compared item by item with the example's first item)."""
    if example is None:
        return
    if isinstance(example, dict):
        assert isinstance(got, dict), f"{where}: {got!r} is not an object"
        assert set(got) == set(example), f"{where}: fields {sorted(got)} != {sorted(example)}"
        for name, value in example.items():
            same_shape(got[name], value, f"{where}.{name}")
    elif isinstance(example, list):
        assert isinstance(got, list) and got, f"{where}: {got!r} is not a non-empty list"
        for item in got:
            same_shape(item, example[0], f"{where}[]")
    elif isinstance(example, bool):
        assert isinstance(got, bool), f"{where}: {got!r}"
    elif isinstance(example, int):
        assert isinstance(got, int) and not isinstance(got, bool), f"{where}: {got!r} is not an integer"
    else:
        assert isinstance(got, type(example)), f"{where}: {got!r} is not a {type(example).__name__}"


def submit_curl(http: httpx.Client, video: Path, **fields: str) -> httpx.Response:
    """`curl -X POST …/api/v1/jobs/video/remove-background -F "file=@video.mp4" -F "format=webm"`."""
    with video.open("rb") as fh:
        return http.post(
            "/api/v1/jobs/video/remove-background",
            files=[
                *((name, (None, v)) for name, v in fields.items()),
                ("file", ("video.mp4", fh, "video/mp4")),
            ],
        )


def poll(
    http: httpx.Client, job_id: str, timeout: float = 120
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The document's poll loop (`.data.status`, `.data.progress` until completed or failed), faster; the
    final answer and every job object seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = http.get(f"/api/v1/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["success"] is True, body
        seen.append(body["data"])
        if body["data"]["status"] in ("completed", "failed"):
            return body, seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout}s: {seen[-1]}")


def check_progression(seen: list[dict[str, Any]]) -> None:
    """Statuses and stages from the document's tables, progress inside its stage's range, never back."""
    last = 0
    for data in seen:
        assert data["status"] in STATUSES, data
        if data["stage"] is not None:
            low, high = STAGES[data["stage"]]
            assert low <= data["progress"] <= high, data
        assert data["progress"] >= last, seen
        last = data["progress"]


def rgba_frame(path: Path, width: int, height: int) -> bytes:
    """The first frame as RGBA, decoded with libvpx-vp9 (which reads WebM's alpha channel)."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-c:v",
            "libvpx-vp9",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgba",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert len(out) == width * height * 4
    return out


def gray_frame(path: Path, width: int, height: int) -> bytes:
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert len(out) == width * height * 3
    return out


# In the first frame the picture covers x 20–140, y 60–150; x 200–320 is background only.
PICTURE = [(x, y) for x in range(30, 130, 4) for y in range(70, 140, 4)]
BACKGROUND = [(x, y) for x in range(210, 316, 4) for y in range(4, 236, 4)]


def share(values: list[int], test: Any) -> float:
    return sum(1 for v in values if test(v)) / len(values)


def test_curl_submit_and_poll(base_url: str, video: Path, tmp_path: Path) -> None:
    with client(base_url) as http:
        resp = submit_curl(http, video, format="webm")
        assert resp.status_code == 202, resp.text
        body = resp.json()
        assert body == {"success": True, "data": {"jobId": body["data"]["jobId"], "status": "queued"}}
        job_id = body["data"]["jobId"]  # jq -r '.data.jobId'
        assert isinstance(job_id, str) and job_id

        final, seen = poll(http, job_id)
    check_progression(seen)
    data = final["data"]
    assert data["status"] == "completed", data
    result = data["result"]  # jq '.data.result'
    assert result["outputFormat"] == "webm"
    assert [o["format"] for o in result["outputs"]] == ["webm"]
    assert result["outputUrl"] == result["outputs"][0]["url"]
    assert (result["width"], result["height"]) == (320, 240)

    color = result["detectedBackgroundColor"]
    assert color["hex"] == "#{:02X}{:02X}{:02X}".format(color["r"], color["g"], color["b"])
    assert all(
        abs(got - want) <= 12 for got, want in zip((color["r"], color["g"], color["b"]), GREEN, strict=True)
    ), color

    webm = tmp_path / "out.webm"
    download = httpx.get(result["outputUrl"], timeout=30)
    assert download.status_code == 200
    webm.write_bytes(download.content)
    assert len(download.content) == result["outputSize"]
    stream = next(s for s in ffprobe(webm)["streams"] if s["codec_type"] == "video")
    assert stream["codec_name"] == "vp9" and stream["tags"]["alpha_mode"] == "1", stream
    frame = rgba_frame(webm, 320, 240)
    alpha = lambda points: [frame[(y * 320 + x) * 4 + 3] for x, y in points]  # noqa: E731
    assert share(alpha(BACKGROUND), lambda a: a <= 16) > 0.98, "the background is not transparent"
    assert share(alpha(PICTURE), lambda a: a >= 240) > 0.8, "the picture is not opaque"


def test_sdk_formats_completed_like_the_example(base_url: str, video: Path, tmp_path: Path) -> None:
    """`client.jobs.submit({file, formats: ['webm', 'stacked-alpha']})` as the HTTP request the SDK makes
    (`formats` a JSON array in one form field), then its poll."""
    with client(base_url) as http:
        resp = submit_curl(http, video, formats='["webm", "stacked-alpha"]')
        assert resp.status_code == 202, resp.text
        final, seen = poll(http, resp.json()["data"]["jobId"])
    check_progression(seen)
    same_shape(final, COMPLETED_EXAMPLE, "body")
    data = final["data"]
    assert data["type"] == "video" and data["status"] == "completed" and data["progress"] == 100
    assert data["stage"] is None and data["error"] is None
    assert data["createdAt"] <= data["startedAt"] <= data["completedAt"] <= time.time() + 1
    result = data["result"]
    assert [o["format"] for o in result["outputs"]] == ["webm", "stacked-alpha"]
    assert result["processingTimeMs"] > 0
    assert abs(result["detectedBackgroundColor"]["g"] - GREEN[1]) <= 12

    stacked = tmp_path / "stacked.mp4"
    stacked.write_bytes(httpx.get(result["outputs"][1]["url"], timeout=30).content)
    assert stacked.stat().st_size == result["outputs"][1]["size"]
    stream = next(s for s in ffprobe(stacked)["streams"] if s["codec_type"] == "video")
    assert (stream["width"], stream["height"]) == (320, 480), "stacked-alpha is twice as tall"
    frame = gray_frame(stacked, 320, 480)
    top = lambda points: [frame[(y * 320 + x) * 3 : (y * 320 + x) * 3 + 3] for x, y in points]  # noqa: E731
    mask = lambda points: [frame[((y + 240) * 320 + x) * 3] for x, y in points]  # noqa: E731
    # Colour on top: the green background as it was; below it, its mask: black background, white picture.
    assert share([px[1] for px in top(BACKGROUND)], lambda g: abs(g - GREEN[1]) <= 16) > 0.95
    assert share(mask(BACKGROUND), lambda v: v <= 24) > 0.98, "the mask's background is not black"
    assert share(mask(PICTURE), lambda v: v >= 230) > 0.8, "the mask's picture is not white"


def test_only_the_submitting_key_sees_the_job(base_url: str, video: Path) -> None:
    with client(base_url) as http:
        resp = submit_curl(http, video, format="webm")
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["data"]["jobId"]
        assert http.get(f"/api/v1/jobs/{job_id}").status_code == 200
    for key in (SAME_ORG_KEY, OTHER_ORG_KEY):
        with client(base_url, key) as other:
            resp = other.get(f"/api/v1/jobs/{job_id}")
            assert resp.status_code == 404, resp.text
            assert resp.json() == {
                "success": False,
                "error": {
                    "code": "NOT_FOUND",
                    "message": f"no job {job_id}",
                    "details": {"recastCode": "not-found"},
                },
            }
    with client(base_url, None) as anonymous:
        resp = anonymous.get(f"/api/v1/jobs/{job_id}")
        assert resp.status_code == 401
        body = resp.json()
        assert body["success"] is False and body["error"]["code"] == "UNAUTHORIZED", body
    with client(base_url, "hc_not-a-key") as wrong:
        resp = wrong.get(f"/api/v1/jobs/{job_id}")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "INVALID_API_KEY"
    # The native API is organization-wide: the same organization's other keys read the job there.
    assert Api(base_url, SAME_ORG_KEY).job(job_id)["id"] == job_id
    Api(base_url, KEY).wait(job_id)
    # A job the same key made through POST /v1/jobs is not a Hypervideo job: 404 here.
    native = Api(base_url, KEY).submit(
        video, [{"type": "mp4", "video": {"codec": "h264", "quality": "economy"}}]
    )
    with client(base_url) as http:
        assert http.get(f"/api/v1/jobs/{native['id']}").status_code == 404
    Api(base_url, KEY).wait(native["id"])


def test_errors_in_the_envelope(base_url: str, video: Path) -> None:
    with client(base_url) as http:
        resp = submit_curl(http, video, format="mp4")
        assert resp.status_code == 400
        body = resp.json()
        assert body["success"] is False and set(body) == {"success", "error"}
        assert body["error"]["code"] == "INVALID_FORMATS"
        assert "webm" in body["error"]["message"] and "stacked-alpha" in body["error"]["message"]

        resp = http.post("/api/v1/jobs/video/remove-background", files={"format": (None, "webm")})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "INVALID_REQUEST"
        assert "file" in resp.json()["error"]["message"]

        resp = submit_curl(http, video, format="webm", chromaKey="green")
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "INVALID_CHROMA_KEY", resp.text

        resp = submit_curl(http, video, format="webm", tolerance="700")
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "INVALID_TOLERANCE"

        resp = http.get("/api/v1/jobs/job_doesnotexist")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "NOT_FOUND"


def test_given_colour_is_reported(base_url: str, video: Path) -> None:
    with client(base_url) as http:
        resp = submit_curl(http, video, format="webm", chromaKey='{"r": 32, "g": 192, "b": 64}')
        assert resp.status_code == 202, resp.text
        final, _ = poll(http, resp.json()["data"]["jobId"])
    assert final["data"]["result"]["detectedBackgroundColor"] == {
        "r": 32,
        "g": 192,
        "b": 64,
        "hex": "#20C040",
    }


def test_native_background_option(base_url: str, video: Path) -> None:
    """The feature is native: `background` on a /v1 output, and a 400 naming what can carry alpha."""
    api = Api(base_url, KEY)
    resp = api.upload(video, [{"type": "mp4", "video": {"codec": "h264"}, "background": {}}])
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    assert "webm or mkv with vp9" in message and "stacked" in message
    job = api.submit(video, [{"type": "mkv", "video": {"codec": "vp9"}, "background": {"color": "auto"}}])
    job = api.wait(job["id"])
    out = job["outputs"][0]
    assert out["status"] == "completed", out
    assert abs(out["background_color"]["g"] - GREEN[1]) <= 12
    assert job["total_actual_cost"] > 0


def test_the_sdk_example_runs_unchanged(base_url: str, video: Path) -> None:
    """The document's SDK example, with Hypervideo's own SDK (`@hypervideo-dev/sdk` from npm) under node:
    it submits `formats` as a JSON array, polls every 2 s and prints `progress% - stage`."""
    node = shutil.which("node")
    assert node and (NODE_MODULES / "@hypervideo-dev" / "sdk").is_dir(), "run scripts/bootstrap.sh --tests"
    run = subprocess.run(
        [node, str(JS_DIR / "hypervideo_poll.mjs"), base_url, KEY, str(video), SAME_ORG_KEY],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    progress = [line for line in lines if re.fullmatch(r"\d+% - \S+", line)]
    assert progress and progress[-1] == "100% - null", lines
    for line in progress:
        percent, stage = line.split("% - ")
        if stage != "null":
            low, high = STAGES[stage]
            assert low <= int(percent) <= high, line
    job = report["job"]
    same_shape({"success": True, "data": job}, COMPLETED_EXAMPLE, "job")
    assert job["jobId"] == report["jobId"] and job["status"] == "completed"
    assert [o["format"] for o in job["result"]["outputs"]] == ["webm", "stacked-alpha"]
    assert abs(job["result"]["detectedBackgroundColor"]["g"] - GREEN[1]) <= 12
    # Another key's read is a 404 (the job is not its own); an unknown key an auth error.
    assert report["otherKey"] == {"code": "NOT_FOUND", "statusCode": 404, "isAuthError": False}
    assert report["unknownKey"] == {"code": "INVALID_API_KEY", "statusCode": 401, "isAuthError": True}
    sync = report["sync"]
    assert sync["url"] == "data:video/webm;base64" and sync["decodedBytes"] == sync["size"] > 0
    assert (sync["format"], sync["width"], sync["height"], sync["processingMethod"]) == (
        "webm",
        320,
        240,
        "chromakey",
    )
    assert sync["fps"] == 25 and sync["frameCount"] == 50 and abs(sync["duration"] - 2) < 0.1
    assert abs(sync["detectedBackgroundColor"]["g"] - GREEN[1]) <= 12 and "outputs" not in sync


def test_sync_endpoint_inlines_every_format(base_url: str, video: Path, tmp_path: Path) -> None:
    with client(base_url) as http:
        resp = http.post(
            "/api/v1/video/remove-background",
            files=[
                ("formats", (None, '["stacked-alpha","webm"]')),
                ("file", ("v.mp4", video.read_bytes(), "video/mp4")),
            ],
            timeout=120,
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert [o["format"] for o in data["outputs"]] == ["stacked-alpha", "webm"]
    assert data["url"] == data["outputs"][0]["url"] and data["height"] == 240
    webm = tmp_path / "sync.webm"
    header, _, payload = data["outputs"][1]["url"].partition(",")
    assert header == "data:video/webm;base64"
    webm.write_bytes(base64.b64decode(payload))
    assert webm.stat().st_size == data["outputs"][1]["size"]
    stream = next(s for s in ffprobe(webm)["streams"] if s["codec_type"] == "video")
    assert stream["tags"]["alpha_mode"] == "1"
