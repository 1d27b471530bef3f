"""Polls while Temporal is slow to answer (RECAST_READ_WAIT_MS): a running job's poll may be answered
with the job's last read, announced by an `Age` header, while the read goes on behind it; `Cache-Control:
no-cache` always waits for a fresh read. The API here waits 0 ms, so every poll that has a last read to
fall back on uses it, and the test can see the fallback against what Temporal says at the same time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from recast.core.job import Job, JobStatus
from recast.devstack.stack import Stack
from tests.helpers import Api, own_api

MP4 = [{"type": "mp4", "video": {"codec": "h264", "width": 256, "height": 144}}]


@pytest.fixture(scope="module")
def impatient_api(temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with own_api(
        temporal,
        tmp_path_factory.mktemp("stale"),
        "recast-stale-polls",
        RECAST_READ_WAIT_MS="0",
        RECAST_READ_CACHE_MS="1",
        RECAST_READ_MAX_AGE_MS="600000",
    ) as api:
        yield api


def finished_in_temporal(temporal: Stack, job_id: str) -> JobStatus:
    """The job's status as its workflow returned it, read straight from Temporal (not through the API)."""

    async def main() -> JobStatus:
        client = await Client.connect(
            temporal.env["RECAST_TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter
        )
        job = await client.get_workflow_handle(job_id, result_type=Job).result()
        return job.status

    return asyncio.run(main())


def test_a_poll_falls_back_on_the_last_read_and_says_how_old_it_is(
    impatient_api: Api, temporal: Stack, clips: dict[str, Path]
) -> None:
    submitted = impatient_api.submit(clips["small"], MP4)
    job_id = submitted["id"]
    assert submitted["status"] == "pending"
    assert finished_in_temporal(temporal, job_id) is JobStatus.completed
    time.sleep(1.1)  # so the last read (the submit's) is at least a second old

    stale = impatient_api.http.get(f"/v1/jobs/{job_id}")
    assert stale.status_code == 200
    # The job is finished in Temporal, but this API's last read of it is the submit's: served as such.
    assert stale.json()["status"] == "pending"
    assert int(stale.headers["age"]) >= 1

    fresh = impatient_api.http.get(f"/v1/jobs/{job_id}", headers={"Cache-Control": "no-cache"})
    assert fresh.status_code == 200 and "age" not in fresh.headers
    assert fresh.json()["status"] == "completed"
    # A finished job is never served stale again: it cannot change.
    again = impatient_api.http.get(f"/v1/jobs/{job_id}")
    assert again.json()["status"] == "completed" and "age" not in again.headers


def test_without_a_last_read_a_poll_waits_for_temporal(impatient_api: Api) -> None:
    missing = impatient_api.http.get("/v1/jobs/job_doesnotexist")
    assert missing.status_code == 404 and "age" not in missing.headers
    assert missing.json()["error"]["code"] == "not-found"
