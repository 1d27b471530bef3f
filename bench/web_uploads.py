"""tus uploads and ranged downloads through the gateway: throughput on local storage and on S3.

    .venv/bin/python bench/web_uploads.py [--mib 256] [--chunk-mib 32] [--rounds 3]

Starts a Temporal dev server (in memory) and two APIs, one on local storage (fs) and one on an
S3-compatible server on loopback (moto, as the tests use), and for each round sends `--mib` MiB of
random bytes:

- fs: the gateway's PUT of `POST /v1/uploads` (one request), and tus PATCHes of `--chunk-mib` MiB,
  appended to the file in place;
- S3: tus PATCHes, each stored as an object of its own, joined into one object when the last arrives
  (the last PATCH's time is shown apart: it includes the join); and for reference a pre-signed PUT
  straight to the store;

then reads 1 MiB from the middle of the uploaded object through `/v1/files/{token}` with `Range`
against the whole file. Prints MiB/s (medians over rounds) and the API processes' peak RSS. moto keeps
objects in memory in Python, so the S3 figures say more about moto than about S3: read them as the
join's cost relative to the upload, not as S3 speeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recast.devstack.stack import Stack, free_port, wait_for_port  # noqa: E402
from recast.infra.signing import FileGrant, sign  # noqa: E402

KEY, ORG, SECRET = "bench-key", "bench", "bench-secret"
BUCKET = "bench-media"
MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tus_upload(http: httpx.Client, data: bytes, chunk: int) -> tuple[str, float, float]:
    """Upload with tus PATCHes; returns (upload id, total seconds, seconds of the last PATCH)."""
    started = time.perf_counter()
    made = http.post(
        "/v1/tus/", headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": "filename Yi5iaW4="}
    )
    assert made.status_code == 201, made.text
    url = made.headers["location"]
    last = 0.0
    for offset in range(0, len(data), chunk):
        sent = time.perf_counter()
        resp = http.patch(
            url,
            content=data[offset : offset + chunk],
            headers={**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
        )
        assert resp.status_code == 204, resp.text
        last = time.perf_counter() - sent
    return url.rsplit("/", 1)[-1], time.perf_counter() - started, last


def ranged_read(base: str, upload_id: str, size: int) -> tuple[float, float]:
    """Seconds for 1 MiB from the middle with Range, and for the whole file, through /v1/files."""
    key = f"{ORG}/uploads/{upload_id}/data/b.bin"
    token = sign(
        FileGrant(ORG, "job_x", "out_x", key, "b.bin", "application/octet-stream", int(time.time()) + 600),
        SECRET,
    )
    url = f"{base}/v1/files/{token}"
    with httpx.Client(timeout=300) as http:
        started = time.perf_counter()
        part = http.get(url, headers={"Range": f"bytes={size // 2}-{size // 2 + MIB - 1}"})
        ranged = time.perf_counter() - started
        assert part.status_code == 206 and len(part.content) == MIB
        started = time.perf_counter()
        whole = http.get(url)
        assert whole.status_code == 200 and len(whole.content) == size
        return ranged, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--chunk-mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size, chunk = args.mib * MIB, args.chunk_mib * MIB
    data = os.urandom(size)
    figures: dict[str, list[float]] = {}

    def note(name: str, seconds: float, nbytes: int = size) -> None:
        figures.setdefault(name, []).append(nbytes / MIB / seconds)

    with tempfile.TemporaryDirectory() as tmp:
        moto_port = free_port()
        moto = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port("127.0.0.1", moto_port, 30, moto)
            endpoint = f"http://127.0.0.1:{moto_port}"
            httpx.put(f"{endpoint}/{BUCKET}").raise_for_status()
            env = {
                "RECAST_API_KEYS": f"{KEY}={ORG}",
                "RECAST_SIGNING_SECRET": SECRET,
                "RECAST_MAX_UPLOAD_BYTES": str(size * 2),
                "RECAST_MAX_SUBMISSIONS_PER_MINUTE": "0",
            }
            with Stack(Path(tmp) / "stack", env, quiet=True) as stack:
                stack.start_temporal(free_port(), None)
                fs_url, s3_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
                stack.start_api("127.0.0.1", int(fs_url.rsplit(":", 1)[1]), name="api-fs")
                stack.env.update(
                    RECAST_STORAGE_URL=f"s3://{BUCKET}/bench",
                    RECAST_S3_ENDPOINT=endpoint,
                    RECAST_S3_ACCESS_KEY_ID="bench",
                    RECAST_S3_SECRET_ACCESS_KEY="bench",
                )
                stack.start_api("127.0.0.1", int(s3_url.rsplit(":", 1)[1]), name="api-s3")
                auth = {"Authorization": f"Bearer {KEY}"}
                for _ in range(args.rounds):
                    with httpx.Client(base_url=fs_url, headers=auth, timeout=300) as http:
                        ticket = http.post("/v1/uploads", json={"filename": "b.bin", "size": size}).json()
                        started = time.perf_counter()
                        assert httpx.put(ticket["url"], content=data, timeout=300).status_code == 200
                        note("fs: gateway PUT (one request)", time.perf_counter() - started)
                        upload_id, total, _ = tus_upload(http, data, chunk)
                        note(f"fs: tus, {args.chunk_mib} MiB PATCHes", total)
                        ranged, whole = ranged_read(fs_url, upload_id, size)
                        note("fs: /v1/files 1 MiB Range from the middle", ranged, MIB)
                        note("fs: /v1/files whole file", whole)
                    with httpx.Client(base_url=s3_url, headers=auth, timeout=300) as http:
                        ticket = http.post("/v1/uploads", json={"filename": "b.bin", "size": size}).json()
                        started = time.perf_counter()
                        put = httpx.put(ticket["url"], content=data, headers=ticket["headers"], timeout=300)
                        assert put.status_code == 200, put.text
                        note("s3 (moto): pre-signed PUT to the store", time.perf_counter() - started)
                        upload_id, total, last = tus_upload(http, data, chunk)
                        note(f"s3 (moto): tus, {args.chunk_mib} MiB PATCHes as parts, joined", total)
                        note("s3 (moto): last PATCH incl. the join (MiB of the whole upload per s)", last)
                        ranged, whole = ranged_read(s3_url, upload_id, size)
                        note("s3 (moto): /v1/files 1 MiB Range from the middle", ranged, MIB)
                        note("s3 (moto): /v1/files whole file", whole)
                rss = {
                    name: peak_rss_mib(proc.pid)
                    for name, proc in stack.procs.items()
                    if name.startswith("api")
                }
        finally:
            moto.terminate()
            moto.wait(10)

    print(f"{args.mib} MiB, {args.rounds} rounds (medians, MiB/s):")
    for name, values in figures.items():
        print(f"  {name}: {statistics.median(values):.0f}")
    print("  peak RSS: " + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in rss.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
