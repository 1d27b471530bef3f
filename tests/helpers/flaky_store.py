"""An S3-compatible store on loopback that fails uploads on demand: moto's S3 server, and an HTTP proxy in
front of it that answers `503 SlowDown` (as S3 does when it sheds load) to the PUTs of output objects
while `refuse` says so. Everything else (input uploads and reads, pre-signed GETs) passes through.
The upload-step tests point a worker at the proxy and watch what it does about the refusals."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from recast.devstack.stack import free_port, wait_for_port

BUCKET, PREFIX = "recast-media", "tenants"
ACCESS_KEY, SECRET_KEY, REGION = "recast-test-access", "recast-test-secret", "us-east-1"
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class FlakyStore:
    """The proxy's endpoint; `refuse` output PUTs still to refuse (a large number: all for now)."""

    endpoint: str
    refuse: int = 0
    refused: int = 0
    stored: int = 0  # output PUTs let through

    def env(self) -> dict[str, str]:
        """RECAST_* settings of a stack storing into the bucket through the proxy."""
        return {
            "RECAST_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
            "RECAST_S3_ENDPOINT": self.endpoint,
            "RECAST_S3_REGION": REGION,
            "RECAST_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "RECAST_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@contextlib.contextmanager
def flaky_store(log_dir: Path) -> Iterator[FlakyStore]:
    port = free_port()
    log = (log_dir / "moto.log").open("wb")
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    upstream = f"http://127.0.0.1:{port}"
    lock = threading.Lock()
    forward = httpx.Client(base_url=upstream, timeout=60)
    store = FlakyStore(endpoint="")

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "PUT" and "/outputs/" in self.path:
                with lock:
                    refuse = store.refuse > 0
                    if refuse:
                        store.refuse -= 1
                        store.refused += 1
                    else:
                        store.stored += 1
                if refuse:
                    self._answer(503, {"Content-Type": "application/xml"}, SLOW_DOWN)
                    return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
            headers["Host"] = self.headers.get("Host", "")
            resp = forward.request(self.command, self.path, headers=headers, content=body)
            keep = {
                k: v
                for k, v in resp.headers.items()
                if k.lower() not in ("connection", "transfer-encoding", "content-length", "content-encoding")
            }
            self._answer(resp.status_code, keep, resp.content)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    store.endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    try:
        wait_for_port("127.0.0.1", port, 30, moto)
        httpx.put(f"{upstream}/{BUCKET}", timeout=10).raise_for_status()
        thread.start()
        yield store
    finally:
        httpd.shutdown()
        httpd.server_close()
        forward.close()
        moto.terminate()
        moto.wait(timeout=10)
        log.close()
