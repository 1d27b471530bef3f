"""A loopback HTTP server that serves files and answers `/redirect?to=URL` with a 302, recording every
request's path and Host: the SSRF tests follow redirects with it, in and out of a stack; a loopback
webhook receiver that fails each delivery's first attempts; and moto's S3 server on loopback, for the
tests of S3 storage."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from recast.devstack.stack import free_port, wait_for_port


@contextlib.contextmanager
def loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A threaded HTTP server with `handler` on a free loopback port (yielded), stopped on exit."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@dataclass
class Server:
    """A loopback HTTP server: `/redirect?to=URL` answers 302 to URL, anything else serves `files`."""

    files: Path
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def serving(files: Path) -> Iterator[Server]:
    server = Server(files)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests.append({"path": self.path, "host": self.headers.get("Host", "")})
            parts = urlsplit(self.path)
            if parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = files / parts.path.lstrip("/")
            if not target.is_file():
                self.send_error(404)
                return
            body = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with loopback(Handler) as server.port:
        yield server


@dataclass
class Receiver:
    """A loopback webhook endpoint: answers `fail_first` 500s to each delivery id (`webhook-id`), then 200,
    and records every request (lower-cased headers, raw body)."""

    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/recast"

    def of(self, delivery_id: str) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b in self.requests if h.get("webhook-id") == delivery_id]


@contextlib.contextmanager
def receiving(fail_first: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.requests.append((headers, body))
                seen = sum(
                    1 for h, _ in receiver.requests if h.get("webhook-id") == headers.get("webhook-id")
                )
            self.send_response(500 if seen <= receiver.fail_first else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with loopback(Handler) as receiver.port:
        yield receiver


@contextlib.contextmanager
def moto_s3(log_dir: Path, buckets: tuple[str, ...]) -> Iterator[str]:
    """moto's S3 server (an S3-compatible server in server mode) on a free loopback port, with `buckets`
    created; yields its endpoint URL."""
    port = free_port()
    log = (log_dir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, proc)
        endpoint = f"http://127.0.0.1:{port}"
        for bucket in buckets:
            httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
