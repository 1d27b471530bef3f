"""`GET /v1/jobs`: newest first, cursor pages, status filter, total_count, organizations kept apart.

An API of its own (on the shared Temporal and worker) with organizations no other test uses, so the
counts are exact. Listing is eventually consistent: the tests wait, bounded, for it to catch up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from api.services.listing import list_page
from recast.core.contract import CREATED_AT_KEY
from recast.devstack.stack import Stack
from tests.helpers import Api, second_api

A_KEY, A_ORG = "list-key-a", "tenant-a"
B_KEY, B_ORG = "list-key-b", "tenant-b"
Q_KEY, Q_ORG = "list-key-q", "o'brien"  # a quote in the name must not break (or widen) the query
MP4 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}
FINISHED = {"completed", "failed"}


@pytest.fixture(scope="module")
def list_url(stack: Stack, temporal: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with second_api(
        stack,
        temporal,
        tmp_path_factory.mktemp("list-api"),
        RECAST_API_KEYS=f"{A_KEY}={A_ORG},{B_KEY}={B_ORG},{Q_KEY}={Q_ORG}",
    ) as url:
        yield url


def listing(api: Api, **params: Any) -> dict[str, Any]:
    resp = api.http.get("/v1/jobs", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def wait_listed(api: Api, ids: list[str], timeout: float = 20) -> dict[str, Any]:
    """The first listing that shows exactly these jobs, all finished (visibility lags a little)."""
    deadline = time.monotonic() + timeout
    while True:
        body = listing(api, limit=100)
        shown = {j["id"]: j["status"] for j in body["data"]}
        if set(shown) == set(ids) and set(shown.values()) <= FINISHED and body["total_count"] == len(ids):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"listing still shows {shown} (total {body['total_count']}), expected {ids}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def jobs(list_url: str, clips: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """Finished jobs per organization, in submission order. In tenant-a the first job (an encode)
    finishes after the three that follow it (not media: they fail at the probe), so the listing's
    order cannot come from finishing times."""
    a, b, q = Api(list_url, A_KEY), Api(list_url, B_KEY), Api(list_url, Q_KEY)
    plan = [(a, "small"), (a, "notmedia"), (a, "notmedia"), (a, "notmedia"), (a, "small")]
    plan += [(b, "notmedia"), (q, "small")]
    submitted: dict[str, list[dict[str, Any]]] = {A_ORG: [], B_ORG: [], Q_ORG: []}
    for api, clip in plan:
        job = api.submit(clips[clip], [MP4])
        submitted[job["organization"]].append(job)
    finished: dict[str, list[dict[str, Any]]] = {}
    for api, org in ((a, A_ORG), (b, B_ORG), (q, Q_ORG)):
        finished[org] = [api.wait(j["id"]) for j in submitted[org]]
        wait_listed(api, [j["id"] for j in finished[org]])
    statuses = [j["status"] for j in finished[A_ORG]]
    assert statuses == ["completed", "failed", "failed", "failed", "completed"], statuses
    assert finished[A_ORG][0]["completed_at"] > finished[A_ORG][3]["completed_at"]
    return finished


def test_pages_walk_every_job_newest_first(list_url: str, jobs: dict[str, list[dict[str, Any]]]) -> None:
    api = Api(list_url, A_KEY)
    seen: list[dict[str, Any]] = []
    sizes = []
    cursor = None
    for _ in range(10):
        body = listing(api, limit=2, **({"cursor": cursor} if cursor else {}))
        assert body["total_count"] == 5
        sizes.append(len(body["data"]))
        seen += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sizes == [2, 2, 1]
    ids = [j["id"] for j in seen]
    assert len(set(ids)) == len(ids), "a job was listed twice"
    assert ids == [j["id"] for j in reversed(jobs[A_ORG])], "not newest first"
    created = [j["created_at"] for j in seen]
    assert created == sorted(created, reverse=True)
    # Each item is the whole Job, as GET /v1/jobs/{id} gives it once finished.
    for item in seen:
        assert item == api.job(item["id"])


def test_default_limit_and_one_page(list_url: str, jobs: dict[str, list[dict[str, Any]]]) -> None:
    body = listing(Api(list_url, A_KEY))
    assert len(body["data"]) == 5 and body["next_cursor"] is None and body["total_count"] == 5
    one = listing(Api(list_url, A_KEY), limit=1)
    assert [j["id"] for j in one["data"]] == [jobs[A_ORG][-1]["id"]] and one["next_cursor"]


def test_status_filter_and_total_count(list_url: str, jobs: dict[str, list[dict[str, Any]]]) -> None:
    api = Api(list_url, A_KEY)
    failed = listing(api, status="failed")
    assert [j["id"] for j in failed["data"]] == [j["id"] for j in reversed(jobs[A_ORG][1:4])]
    assert failed["total_count"] == 3 and failed["next_cursor"] is None
    assert all(j["status"] == "failed" and j["error_code"] == "invalid-media" for j in failed["data"])

    page = listing(api, status="completed", limit=1)
    assert page["total_count"] == 2 and [j["id"] for j in page["data"]] == [jobs[A_ORG][4]["id"]]
    rest = listing(api, status="completed", limit=1, cursor=page["next_cursor"])
    assert [j["id"] for j in rest["data"]] == [jobs[A_ORG][0]["id"]] and rest["next_cursor"] is None

    none = listing(api, status="processing")
    assert none == {"data": [], "next_cursor": None, "total_count": 0}


def test_organizations_never_see_each_others_jobs(
    list_url: str, jobs: dict[str, list[dict[str, Any]]]
) -> None:
    for key, org in ((A_KEY, A_ORG), (B_KEY, B_ORG), (Q_KEY, Q_ORG)):
        body = listing(Api(list_url, key), limit=100)
        assert {j["id"] for j in body["data"]} == {j["id"] for j in jobs[org]}, org
        assert {j["organization"] for j in body["data"]} == {org}
        assert body["total_count"] == len(jobs[org])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "done"}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ0IjoxfQ"}, "cursor"),  # base64 of {"t":1}
    ],
)
def test_bad_parameters_are_400(list_url: str, params: dict[str, Any], field: str) -> None:
    resp = Api(list_url, A_KEY).http.get("/v1/jobs", params=params)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid-input" and field in error["message"], error


def test_limit_bounds_are_accepted_and_key_required(list_url: str) -> None:
    for limit in (1, 100):
        assert Api(list_url, A_KEY).http.get("/v1/jobs", params={"limit": limit}).status_code == 200
    resp = Api(list_url, "no-such-key").http.get("/v1/jobs")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


# ---------------------------------------------------------------- paging, at the visibility level ----------


def test_windowed_pages_match_a_full_sort(temporal: Stack) -> None:
    """Many jobs older than the cursor: pages come from count-sized windows of creation time. Same
    order as sorting everything, across ties within one millisecond, equal times, a burst, gaps of
    years, and a workflow without RecastCreatedAt (ordered by its start time)."""
    org = "window-org"
    base = datetime.now(UTC) - timedelta(minutes=8)
    offsets = [timedelta(microseconds=us) for us in (100, 200, 499, 500, 501, 900, 900, 1000, 1400)]
    offsets += [timedelta(seconds=2, milliseconds=37 * k) for k in range(15)]  # a burst
    offsets += [timedelta(seconds=s) for s in (1, 30, 300)]
    offsets += [timedelta(minutes=-m) for m in (5, 6, 7)]
    offsets += [timedelta(days=-d) for d in (1, 40, 400, 2000)]
    created = {f"job_win{i:02d}": base + off for i, off in enumerate(offsets)}
    org_key = SearchAttributeKey.for_keyword("RecastOrganization")

    async def run() -> None:
        client = await Client.connect(temporal.env["RECAST_TEMPORAL_ADDRESS"])
        handles = []
        for job_id, at in {**created, "job_win_undated": None}.items():
            pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(org_key, org)]
            if at is not None:
                pairs.append(SearchAttributePair(CREATED_AT_KEY, at))
            handles.append(
                await client.start_workflow(
                    "TranscodeJob",
                    id=job_id,
                    task_queue="list-window-test-no-worker",
                    search_attributes=TypedSearchAttributes(pairs),
                )
            )
        try:
            # The undated workflow started last: by its start time it is the newest.
            expected = ["job_win_undated"] + [
                i for _, i in sorted(((a, i) for i, a in created.items()), reverse=True)
            ]
            deadline = time.monotonic() + 20
            while (await list_page(client, org, None, 100)).total_count < len(expected):
                assert time.monotonic() < deadline, "visibility never showed every workflow"
                await asyncio.sleep(0.2)
            for scan_limit in (1000, 4):  # all at once, then in windows
                for limit in (1, 3, 7):
                    ids: list[str] = []
                    cursor = None
                    while True:
                        page = await list_page(client, org, None, limit, cursor, scan_limit=scan_limit)
                        assert page.total_count == len(expected)
                        assert len(page.executions) == limit or page.next_cursor is None
                        ids += [e.id for e in page.executions]
                        cursor = page.next_cursor
                        if cursor is None:
                            break
                    assert ids == expected, (scan_limit, limit)
        finally:
            for handle in handles:
                await handle.terminate()

    asyncio.run(run())
