"""Limits on what an input may cost: its media duration (probe refuses `too-long`), its frame size
(`too-large`) and the time its download may take (`too-slow`, however slowly the server drips bytes).
The test stack sets RECAST_MAX_DURATION=60, RECAST_MAX_PIXELS=4000000 and RECAST_FETCH_TIMEOUT=4."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, activity_attempts, make_clip, make_with_ffmpeg

MP4 = [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}]


def test_input_longer_than_the_limit_fails_too_long(api: Api, temporal: Stack, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "long61.mp4", seconds=61, size="128x72", audio=False, rate=5)
    done = api.wait(api.submit(clip, MP4)["id"], timeout=60)
    assert done["status"] == "failed"
    assert done["error_code"] == "too-long"
    assert "61.0 s" in done["error_message"] and "60 s" in done["error_message"]
    assert done["input_metadata"] is None
    assert activity_attempts(temporal, done["id"], "encode_output") == []  # nothing was encoded


def flat_picture(path: Path, size: str) -> Path:
    """One flat grey frame of `size`, as an image or a one-frame video (by the file's extension)."""
    make_with_ffmpeg("-f", "lavfi", "-i", f"color=gray:size={size}:duration=0.2", "-frames:v", "1", str(path))
    return path


@pytest.mark.parametrize(("name", "size"), [("huge.png", "2560x1600"), ("huge.mp4", "1600x2560")])
def test_frames_larger_than_the_limit_fail_too_large(
    api: Api, temporal: Stack, tmp_path: Path, name: str, size: str
) -> None:
    # 4.1 MP: a tiny file (one flat frame) that would decode to 12 MB per frame.
    src = flat_picture(tmp_path / name, size)
    outputs = [{"type": "webp"}] if name.endswith(".png") else MP4
    done = api.wait(api.submit(src, outputs)["id"], timeout=60)
    assert (done["status"], done["error_code"]) == ("failed", "too-large"), done
    width, height = size.split("x")
    assert f"{width}x{height} (4.1 megapixels)" in done["error_message"]
    assert "limit of 4 megapixels" in done["error_message"]
    assert activity_attempts(temporal, done["id"], "encode_output") == []
    assert activity_attempts(temporal, done["id"], "encode_image") == []


def test_frames_at_the_limit_are_fine(api: Api, tmp_path: Path) -> None:
    src = flat_picture(tmp_path / "big.png", "2000x2000")  # exactly 4 MP
    done = api.wait(api.submit(src, [{"type": "webp", "image": {"width": 200}}])["id"], timeout=60)
    assert done["status"] == "completed", done
    assert done["input_metadata"]["width"] * done["input_metadata"]["height"] == 4_000_000


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """Announces 5 MB, then sends a few bytes every 200 ms: never idle long enough for a read timeout."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(5_000_000))
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"\0" * 64)
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the fetch gave up, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_dripping_download_is_cut_at_the_fetch_timeout(api: Api, dripping_server: str) -> None:
    started = time.monotonic()
    resp = api.http.post("/v1/jobs", json={"input_url": f"{dripping_server}/slow.mp4", "outputs": MP4})
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"], timeout=30)
    assert done["status"] == "failed"
    assert done["error_code"] == "too-slow"
    assert "4 s" in done["error_message"]
    # Cut once, at the deadline: not retried into a multiple of it, and far before the 40 s drip ends.
    assert time.monotonic() - started < 15
