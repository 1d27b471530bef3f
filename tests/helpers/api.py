"""An HTTP client for a running Recast API, and the request models a caller can send (for the
untrusted-input tests)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from recast.core.requests import JobCreate
from recast.devstack.stack import Stack, free_port
from tests.helpers.media import ffprobe
from tests.helpers.stacks import API_KEY, new_stack

TERMINAL = {"completed", "failed", "partial", "canceled"}


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


def upload_form(api: Api, path: Path, outputs: list[dict[str, Any]], **fields: str) -> httpx.Response:
    """A multipart submission (`Api.upload` names its file argument `clip`, so it cannot pass the field)."""
    with path.open("rb") as fh:
        return api.http.post(
            "/v1/jobs",
            files={"media": (path.name, fh, "video/mp4")},
            data={"outputs": json.dumps(outputs), **fields},
        )


def request_models() -> list[type[BaseModel]]:
    """Every model the API validates a caller's JSON with."""
    models: list[type[BaseModel]] = [JobCreate]
    try:
        from api.models import UploadCreate
    except ImportError:  # the upload flow is optional here
        pass
    else:
        models.append(UploadCreate)
    return models


@contextlib.contextmanager
def own_api(temporal: Stack, data_dir: Path, task_queue: str, **env: str) -> Iterator[Api]:
    """A worker and an API of their own, on their own task queue, with settings the shared stack does
    not have (e.g. another stall timeout); yields a client of the API."""
    s = new_stack(temporal, data_dir, task_queue, **env)
    try:
        s.start_worker()
        port = free_port()
        s.start_api("127.0.0.1", port)
        yield Api(f"http://127.0.0.1:{port}")
    finally:
        s.stop()
