"""The media layer end to end: a hostile playlist (HLS or ffconcat) naming another local file and a
URL is followed neither by ffprobe, nor by ffmpeg, nor by a whole job. Probing, sizing and the output
check are tested without a stack in tests/unit/test_media.py."""

from __future__ import annotations

import contextlib
import ctypes
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from recast.core.specs import OutputSpec
from recast.media import renditions, streaming, tools
from tests.helpers import Api, probe


class _Opens:
    """Every open of one file by any process on this machine, seen through inotify."""

    IN_OPEN, IN_ACCESS, IN_NONBLOCK = 0x20, 0x01, 0o4000

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, str(path).encode(), self.IN_OPEN | self.IN_ACCESS) >= 0

    def count(self) -> int:
        events = 0
        with contextlib.suppress(BlockingIOError):
            while data := os.read(self.fd, 4096):
                events += len(data) // 16  # struct inotify_event; no name for a watched file
        return events

    def close(self) -> None:
        os.close(self.fd)


class _Spy(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "evil.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{clip}\n#EXTINF:2,\n{url}\n#EXT-X-ENDLIST\n",
        ),
        ("evil.txt", "ffconcat version 1.0\nfile {clip}\nfile {url}\n"),
    ],
)
def test_hostile_playlist_cannot_reach_other_files(
    tmp_path: Path, clips: dict[str, Path], api: Api, name: str, text: str
) -> None:
    # A playlist naming another local file (think: another organization's upload) and a URL must not
    # be followed: not by ffprobe, not by ffmpeg, not by a whole job (single file or ladder).
    secret = tmp_path / "other-org.mp4"
    shutil.copy(clips["small"], secret)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Spy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Spy.hits.clear()
    playlist = tmp_path / name
    url = f"http://127.0.0.1:{server.server_address[1]}/secret.mp4"
    playlist.write_text(text.format(clip=secret, url=url))
    opens = _Opens(secret)
    try:
        with pytest.raises(tools.MediaError) as err:
            probe(playlist)
        assert err.value.code == "invalid-media" and "playlists" in str(err.value)
        meta = probe(clips["small"])  # even if probing were skipped, ffmpeg itself refuses to follow it
        spec = OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}})
        ladder = OutputSpec.model_validate(
            {"type": "hls", "video": [{"codec": "h264"}, {"codec": "h264", "height": 180}]}
        )
        (tmp_path / "pkg").mkdir()
        for args in (
            renditions.encode_plan(spec, meta, playlist, tmp_path / "o.mp4").args,
            streaming.ladder_plan(ladder, meta, playlist, tmp_path / "pkg").args,
        ):
            run = subprocess.run(args, capture_output=True)
            assert run.returncode != 0 and b"not on whitelist" in run.stderr
        # Through the API: the job fails cleanly at probing.
        jobs = [
            api.submit(playlist, [o])
            for o in (
                {"type": "mp4", "video": {"codec": "h264"}},
                ladder.model_dump(mode="json", exclude_none=True),
            )
        ]
        for job in jobs:
            done = api.wait(job["id"])
            assert (done["status"], done["error_code"]) == ("failed", "invalid-media"), done
            assert "playlists" in done["error_message"]
        assert opens.count() == 0, "something opened the file the playlist names"
        assert _Spy.hits == [], "something fetched the URL the playlist names"
    finally:
        opens.close()
        server.shutdown()
