"""What the tests share: test media made with lavfi (ffmpeg), an HTTP client for a running API,
and stacks (API + worker) on the session's Temporal dev server. Fixtures live in conftest.py."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from recast.devstack.stack import Stack, free_port

API_KEY, ORG = "test-key-acme", "acme"
OTHER_KEY, OTHER_ORG = "test-key-globex", "globex"
SECRET = "test-signing-secret"
MAX_UPLOAD = 8 * 1024 * 1024
TERMINAL = {"completed", "failed", "partial", "canceled"}

# What every test stack shares: short stall and heartbeat timeouts keep failure tests quick.
STACK_ENV = {
    "RECAST_API_KEYS": f"{API_KEY}={ORG},{OTHER_KEY}={OTHER_ORG}",
    "RECAST_SIGNING_SECRET": SECRET,
    "RECAST_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
    "RECAST_STALL_TIMEOUT": "3",
    "RECAST_HEARTBEAT_TIMEOUT": "5",
    "RECAST_ENCODE_ATTEMPTS": "2",
    "RECAST_CONFIRMATION_TIMEOUT": "5",
    "RECAST_MAX_DURATION": "60",
    "RECAST_MAX_PIXELS": "4000000",  # 4 MP: above every clip the tests make but one
    "RECAST_FETCH_TIMEOUT": "4",
    "RECAST_WEBHOOK_RETRY": "60",
    # Many tests submit as one organization in quick succession: no per-organization limits here;
    # tests/test_limits.py runs an API with low ones.
    "RECAST_MAX_CONCURRENT_JOBS": "0",
    "RECAST_MAX_SUBMISSIONS_PER_MINUTE": "0",
    # The tests' input and webhook servers listen on loopback, which Recast refuses by default (SSRF);
    # tests/test_ssrf.py runs a stack without this.
    "RECAST_URL_ALLOWLIST": "127.0.0.1/32",
}


def make_clip(
    path: Path, seconds: float = 2, size: str = "640x360", audio: bool = True, rate: int = 30
) -> Path:
    if path.exists():
        return path
    args = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}:duration={seconds}",
    ]
    if audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:a",
            "aac",
        ]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-shortest", str(path)]
    subprocess.run(args, check=True)
    return path


def make_with_ffmpeg(*args: str) -> None:
    """Run `ffmpeg -v error -y ARGS` to make a test file; fail the test when ffmpeg fails."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_tone(path: Path, seconds: float = 1) -> Path:
    """An audio-only input: a 440 Hz AAC tone at 44.1 kHz (made once)."""
    if not path.exists():
        sine = f"sine=frequency=440:sample_rate=44100:duration={seconds}"
        make_with_ffmpeg("-f", "lavfi", "-i", sine, "-c:a", "aac", str(path))
    return path


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def stream(data: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((s for s in data["streams"] if s["codec_type"] == kind), None)


class Api:
    """An HTTP client for one running API, with the helpers tests keep needing."""

    def __init__(self, base_url: str, key: str = API_KEY) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def upload(self, clip: Path, outputs: list[dict[str, Any]], **fields: str) -> httpx.Response:
        with clip.open("rb") as fh:
            return self.http.post(
                "/v1/jobs",
                files={"media": (clip.name, fh, "video/mp4")},
                data={"outputs": json.dumps(outputs), **fields},
            )

    def submit(self, clip: Path, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        resp = self.upload(clip, outputs)
        assert resp.status_code == 202, resp.text
        job: dict[str, Any] = resp.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/v1/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        return job

    def wait(self, job_id: str, timeout: float = 90, until: set[str] = TERMINAL) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in until:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s: {job}")

    def download(self, job_id: str, output_id: str, dest: Path) -> httpx.Response:
        link = self.http.get(f"/v1/jobs/{job_id}/outputs/{output_id}/download")
        assert link.status_code == 200, link.text
        resp = httpx.get(link.json()["url"], timeout=30)
        assert resp.status_code == 200, resp.text
        dest.write_bytes(resp.content)
        return resp

    def fetch_output(self, job: dict[str, Any], index: int, dest: Path) -> dict[str, Any]:
        """Download output `index` of a finished job (which must be completed) and ffprobe it."""
        out = job["outputs"][index]
        assert out["status"] == "completed", out
        self.download(job["id"], out["id"], dest)
        return ffprobe(dest)


def new_stack(temporal: Stack, data_dir: Path, task_queue: str, **env: str) -> Stack:
    return Stack(
        data_dir=data_dir,
        env={
            **STACK_ENV,
            "RECAST_TEMPORAL_ADDRESS": temporal.env["RECAST_TEMPORAL_ADDRESS"],
            "RECAST_TASK_QUEUE": task_queue,
            **env,
        },
        quiet=True,
    )


SHARED_QUEUE = "recast-tests"


@contextlib.contextmanager
def second_api(stack: Stack, temporal: Stack, data_dir: Path, **env: str) -> Iterator[str]:
    """Another API process with its own settings in front of the shared stack's worker and storage,
    for tests that need other keys or limits; yields its base URL."""
    s = new_stack(
        temporal,
        data_dir,
        SHARED_QUEUE,
        RECAST_STORAGE_URL=f"fs://{(stack.data_dir / 'storage').resolve()}",
        **env,
    )
    try:
        port = free_port()
        s.start_api("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        s.stop()
