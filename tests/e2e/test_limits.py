"""Per-organization limits: concurrent jobs and submissions per minute → 429 `rate-limited` with
`Retry-After` and a message naming the limit; other organizations unaffected; a cancel frees a slot.

An API of its own with low limits (2 concurrent jobs, 4 submissions a minute), on the shared Temporal
and worker, and organizations no other test uses. Jobs are submitted with `delayed_start`, so they stay
unfinished (awaiting confirmation) for as long as a test needs, at the cost of one probe each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, second_api

MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
MAX_CONCURRENT, PER_MINUTE = 2, 4
ORGS = {
    "lim-c": "limits-key-c",
    "lim-o": "limits-key-o",
    "lim-r": "limits-key-r",
    "lim-b": "limits-key-b",
    "lim-u": "limits-key-u",
}


@pytest.fixture(scope="module")
def limits_url(stack: Stack, temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with second_api(
        stack,
        temporal,
        tmp_path_factory.mktemp("limits-api"),
        RECAST_API_KEYS=",".join(f"{key}={org}" for org, key in ORGS.items()),
        RECAST_CONFIRMATION_TIMEOUT="600",
        RECAST_MAX_CONCURRENT_JOBS=str(MAX_CONCURRENT),
        RECAST_MAX_SUBMISSIONS_PER_MINUTE=str(PER_MINUTE),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def started(limits_url: str) -> Iterator[list[tuple[str, str]]]:
    """(org, job ID) of every job the tests start; cancelled at the end so none waits on the worker."""
    jobs: list[tuple[str, str]] = []
    yield jobs
    for org, job_id in jobs:
        Api(limits_url, ORGS[org]).http.post(f"/v1/jobs/{job_id}/cancel")


def submit(api: Api, clips: dict[str, Path], **headers: str) -> httpx.Response:
    with clips["small"].open("rb") as fh:
        return api.http.post(
            "/v1/jobs",
            files={"media": ("small.mp4", fh, "video/mp4")},
            data={"outputs": f"[{MP4}]".replace("'", '"'), "delayed_start": "true"},
            headers=headers,
        )


def accepted(resp: httpx.Response, org: str, started: list[tuple[str, str]], status: int = 202) -> str:
    assert resp.status_code == status, resp.text
    job_id: str = resp.json()["id"]
    if status == 202:
        started.append((org, job_id))
    return job_id


def rate_limited(resp: httpx.Response) -> tuple[str, int]:
    """The 429's message and Retry-After (seconds)."""
    assert resp.status_code == 429, resp.text
    assert resp.json()["error"]["code"] == "rate-limited", resp.text
    retry_after = int(resp.headers["Retry-After"])
    assert retry_after >= 1
    message: str = resp.json()["error"]["message"]
    return message, retry_after


def test_concurrent_jobs_limit_and_a_cancel_frees_a_slot(
    limits_url: str, clips: dict[str, Path], started: list[tuple[str, str]]
) -> None:
    api, other = Api(limits_url, ORGS["lim-c"]), Api(limits_url, ORGS["lim-o"])
    first = accepted(submit(api, clips), "lim-c", started)
    second = accepted(submit(api, clips), "lim-c", started)
    message, retry_after = rate_limited(submit(api, clips))
    assert "concurrent jobs" in message and f"at most {MAX_CONCURRENT}" in message, message
    assert retry_after <= 60
    # Only submissions are limited: reading, listing and controlling go on.
    assert api.job(first)["organization"] == "lim-c"
    assert api.http.get("/v1/jobs").status_code == 200
    # Another organization is not affected.
    accepted(submit(other, clips), "lim-o", started)
    # Cancelling one frees its slot (as soon as visibility shows it canceled: a moment).
    assert api.http.post(f"/v1/jobs/{first}/cancel").json()["status"] == "canceled"
    for _ in range(100):
        resp = submit(api, clips)
        if resp.status_code != 429:
            break
        assert "concurrent jobs" in rate_limited(resp)[0]
        time.sleep(0.1)
    third = accepted(resp, "lim-c", started)
    assert third not in (first, second)
    # … and only that one: the organization is at its limit again.
    assert "concurrent jobs" in rate_limited(submit(api, clips))[0]


def test_submissions_per_minute_and_idempotent_repeats(
    limits_url: str, clips: dict[str, Path], started: list[tuple[str, str]]
) -> None:
    api, other = Api(limits_url, ORGS["lim-r"]), Api(limits_url, ORGS["lim-o"])
    first = accepted(submit(api, clips, **{"Idempotency-Key": "lim-r-1"}), "lim-r", started)
    accepted(submit(api, clips), "lim-r", started)
    # At the concurrent limit, repeating an existing job's submission returns it (200) …
    again = accepted(submit(api, clips, **{"Idempotency-Key": "lim-r-1"}), "lim-r", started, status=200)
    assert again == first
    # … while a new key would be a new job: refused.
    assert "concurrent jobs" in rate_limited(submit(api, clips, **{"Idempotency-Key": "lim-r-2"}))[0]
    # A repeat is still a submission: the fourth of this minute is the last one allowed.
    accepted(submit(api, clips, **{"Idempotency-Key": "lim-r-1"}), "lim-r", started, status=200)
    message, retry_after = rate_limited(submit(api, clips, **{"Idempotency-Key": "lim-r-1"}))
    assert "submissions per minute" in message and f"at most {PER_MINUTE} jobs per minute" in message, message
    # The window opened with the first submission, moments ago: its end is most of a minute away.
    assert 40 <= retry_after <= 60, retry_after
    assert f"{retry_after} s" in message
    # Another organization has a window of its own.
    accepted(submit(other, clips), "lim-o", started)


def test_a_burst_cannot_overshoot_the_concurrent_limit(
    limits_url: str, clips: dict[str, Path], started: list[tuple[str, str]]
) -> None:
    api = Api(limits_url, ORGS["lim-b"])
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: submit(api, clips), range(6)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [202] * MAX_CONCURRENT + [429] * (6 - MAX_CONCURRENT), [r.text for r in answers]
    for resp in answers:
        if resp.status_code == 202:
            accepted(resp, "lim-b", started)
        else:
            assert "concurrent jobs" in rate_limited(resp)[0]


def test_uploads_per_minute_are_limited(limits_url: str) -> None:
    api = Api(limits_url, ORGS["lim-u"])
    body = {"filename": "clip.mp4", "size": 1000, "content_type": "video/mp4"}
    for _ in range(PER_MINUTE):
        resp = api.http.post("/v1/uploads", json=body)
        assert resp.status_code == 201, resp.text
    message, _ = rate_limited(api.http.post("/v1/uploads", json=body))
    assert "uploads" in message and str(PER_MINUTE) in message
    # Uploads have a window of their own: this organization can still submit jobs.
    job = api.http.post("/v1/jobs", json={"input_url": "http://x.invalid/a.mp4", "outputs": [MP4]})
    assert job.status_code == 202, job.text


def test_the_schema_documents_429_on_submits_only(limits_url: str) -> None:
    paths = httpx.get(f"{limits_url}/openapi.json").json()["paths"]
    submit_429 = paths["/v1/jobs"]["post"]["responses"]["429"]
    assert "Retry-After" in submit_429["headers"]
    assert "429" in paths["/v1/uploads"]["post"]["responses"]
    assert "429" not in paths["/v1/jobs"]["get"]["responses"]
    assert "429" not in paths["/v1/jobs/{job_id}"]["get"]["responses"]


# ---------------------------------------------------------------- the window, on a fake clock ---------------------
