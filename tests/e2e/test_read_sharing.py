"""JobStore reads of a running job are shared: concurrent callers wait for one describe, and its result
is served again for `read_cache_s`. Against the real dev server, with jobs nobody works on (their task
queue has no worker), so they stay running and every read would otherwise be a describe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.errors import ApiError
from api.job_store import LATENCY_WINDOW, JobStore, read_age
from recast.core import ids
from recast.core.job import JobStatus
from recast.core.payloads import InputSource, JobParams, PlannedOutput
from recast.core.specs import OutputSpec
from recast.devstack.stack import Stack

QUEUE = "read-sharing-no-worker"


def run(temporal: Stack, test: Callable[[Client, str], Awaitable[None]]) -> None:
    """Start one pending job, run `test(client, job_id)`, terminate the job."""

    async def main() -> None:
        client = await Client.connect(
            temporal.env["RECAST_TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter
        )
        params = JobParams(
            job_id=ids.job_id(),
            organization="acme",
            source=InputSource(url="http://example.invalid/clip.mp4"),
            outputs=[
                PlannedOutput(
                    id=ids.output_id(),
                    spec=OutputSpec.model_validate({"type": "mp4", "video": {"codec": "h264"}}),
                )
            ],
            created_at=datetime.now(UTC),
        )
        await JobStore(client, QUEUE).start(params)
        try:
            await test(client, params.job_id)
        finally:
            await client.get_workflow_handle(params.job_id).terminate()

    asyncio.run(main())


def test_concurrent_reads_share_one_describe(temporal: Stack) -> None:
    async def test(client: Client, job_id: str) -> None:
        store = JobStore(client, QUEUE, read_cache_s=0.5)
        jobs = await asyncio.gather(*(store.get(job_id, "acme") for _ in range(20)))
        assert {j.id for j in jobs} == {job_id} and {j.status for j in jobs} == {JobStatus.pending}
        assert store.describes == 1
        await store.get(job_id, "acme")  # within read_cache_s: the same read
        assert store.describes == 1
        await asyncio.sleep(0.6)
        await asyncio.gather(*(store.get(job_id, "acme") for _ in range(20)))
        assert store.describes == 2
        store.forget(job_id)  # what cancel and confirm do: the next read is a new one
        await store.get(job_id, "acme")
        assert store.describes == 3

    run(temporal, test)


def test_without_sharing_every_read_is_a_describe(temporal: Stack) -> None:
    async def test(client: Client, job_id: str) -> None:
        store = JobStore(client, QUEUE, read_cache_s=0)
        await asyncio.gather(*(store.get(job_id, "acme") for _ in range(20)))
        assert store.describes == 20

    run(temporal, test)


def test_shared_reads_still_check_the_organization(temporal: Stack) -> None:
    async def test(client: Client, job_id: str) -> None:
        store = JobStore(client, QUEUE, read_cache_s=5)
        results = await asyncio.gather(
            *(store.get(job_id, org) for org in ["acme", "globex"] * 5), return_exceptions=True
        )
        for org, result in zip(["acme", "globex"] * 5, results, strict=True):
            if org == "acme":
                assert not isinstance(result, BaseException) and result.id == job_id
            else:
                assert isinstance(result, ApiError) and result.status == 404, result
        with pytest.raises(ApiError) as err:  # from the cache too
            await store.get(job_id, "globex")
        assert err.value.code == "not-found"
        missing = await asyncio.gather(
            *(store.get("job_doesnotexist", "acme") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(m, ApiError) and m.status == 404 for m in missing)
        assert store.describes == 2

    run(temporal, test)


def test_a_caller_that_goes_away_does_not_cancel_the_shared_read(temporal: Stack) -> None:
    async def test(client: Client, job_id: str) -> None:
        store = JobStore(client, QUEUE, read_cache_s=0.5)
        first = asyncio.create_task(store.get(job_id, "acme"))
        await asyncio.sleep(0)  # the first caller has started the describe
        second = asyncio.create_task(store.get(job_id, "acme"))
        await asyncio.sleep(0)
        first.cancel()  # e.g. its HTTP client disconnected
        started = time.monotonic()
        job = await second
        assert job.id == job_id and time.monotonic() - started < 5
        assert first.cancelled()
        assert store.describes == 1

    run(temporal, test)


def test_while_temporal_is_slow_a_poll_does_not_wait_for_it(temporal: Stack) -> None:
    """A poll waits up to `read_wait_s` for a fresh read; once the recent describes were slower than that,
    a poll with a last read to fall back on gets it at once (`read_age` set), and waiting resumes when
    describes are quick again."""

    async def test(client: Client, job_id: str) -> None:
        store = JobStore(client, QUEUE, read_cache_s=0.001, read_wait_s=2.0, read_max_age_s=60)
        await store.get(job_id, "acme")  # a last read, and a quick describe
        await asyncio.sleep(0.01)
        await store.get(job_id, "acme", stale_ok=True)
        assert read_age.get() is None  # Temporal quick: the poll waited for the fresh read
        assert not store.temporal_slow()

        # Describes as a busy server answers them: slower than the poll's wait.
        store._latency.extend([3.0] * LATENCY_WINDOW)
        assert store.temporal_slow()
        await asyncio.sleep(0.01)
        await store.get(job_id, "acme", stale_ok=True)
        assert read_age.get() is not None  # answered with the last read, without waiting
        await store.get(job_id, "acme")  # not a poll: always waits for Temporal
        assert read_age.get() is None

        for _ in range(16):  # quick describes again push the slow ones out of the window
            await asyncio.sleep(0.002)
            await store.get(job_id, "acme")
        assert not store.temporal_slow()
        await asyncio.sleep(0.01)
        await store.get(job_id, "acme", stale_ok=True)
        assert read_age.get() is None

    run(temporal, test)
