"""A real browser as a client: headless Chromium (Debian's `chromium`, installed by scripts/bootstrap.sh)
opens tests/js/player.html served from an origin of its own (a small loopback server, another port than
the API's), and the page posts what happened back to that server's `/result`.

Why no DevTools Protocol session: the page reports its players' state itself (errors, played time, seek
position), so the test needs nothing but to start the browser and wait for the report; nothing to drive
step by step. As root Chromium needs `--no-sandbox`; headless it needs no display, so it runs under CI
with no terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.helpers.js import JS_DIR, NODE_MODULES
from tests.helpers.servers import loopback

STATIC = {
    "/": (JS_DIR / "player.html", "text/html; charset=utf-8"),
    "/tus.min.js": (NODE_MODULES / "tus-js-client" / "dist" / "tus.min.js", "text/javascript"),
    "/hls.min.js": (NODE_MODULES / "hls.js" / "dist" / "hls.min.js", "text/javascript"),
}


@dataclass
class PageServer:
    """The page's origin: serves the page, its scripts and a clip, and keeps the page's report."""

    clip: Path
    port: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    reported: threading.Event = field(default_factory=threading.Event)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def page_server(clip: Path) -> Iterator[PageServer]:
    server = PageServer(clip)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            target, kind = STATIC.get(path, (server.clip, "video/mp4") if path == "/clip.mp4" else (None, ""))
            if target is None or not target.is_file():
                self.send_error(404)
                return
            body = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.results.append(json.loads(body))
            self.send_response(204)
            self.end_headers()
            server.reported.set()

        def log_message(self, *args: Any) -> None:
            pass

    with loopback(Handler) as server.port:
        yield server


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is missing: run scripts/bootstrap.sh (installs Debian's chromium)"
    return found


def open_page(
    server: PageServer, api_url: str, key: str, profile: Path, timeout: float = 180
) -> dict[str, Any]:
    """Open the page in headless Chromium and return the report it posts (the browser is stopped then)."""
    query = urlencode({"api": api_url, "key": key, "clip": "/clip.mp4"})
    args = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",  # as root (CI runs as root): Chromium's sandbox refuses to start otherwise
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--mute-audio",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={profile}",
        f"{server.origin}/?{query}",
    ]
    log = (profile.parent / "chromium.log").open("wb")
    # A process group of its own, so the browser's helper processes are stopped with it.
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        if not server.reported.wait(timeout):
            tail = (profile.parent / "chromium.log").read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"the page reported nothing in {timeout}s (chromium exit {proc.poll()}): {tail}"
            )
        return server.results[-1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
