"""`GET /v1/jobs`: pages of the caller's jobs, newest first, from Temporal visibility.

Temporal's SQL visibility (the dev server's SQLite, and PostgreSQL) refuses `ORDER BY` and lists
running workflows first, then closed ones by close time, so its own page token cannot give "newest
first". Pages are cut here instead, by creation time (`RecastCreatedAt`, or the start time for a
workflow that does not have it yet): the cursor is the last job's (created_at, id), and a page lists
what is older than it and sorts that. When an organization has more than SCAN_LIMIT older jobs, only
a window of creation time just below the cursor is listed, sized with `count` queries.

Datetime search attributes are kept to the millisecond in SQLite and compared as text, so every time
bound sent is the middle of a millisecond (`…SS.mmm5`): never equal to a stored value, and it orders
correctly against any of them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from api.errors import ApiError
from api.job_store import JobStore
from api.models import JobList
from api.visibility import base_query
from recast.core.contract import CREATED_AT_KEY
from recast.core.job import Job, JobStatus

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
# Up to this many jobs older than the cursor are listed in one go and sorted; beyond it, a window.
SCAN_LIMIT = 200
FIRST_WINDOW = timedelta(minutes=10)
GROWTH = 8
# A job whose creation time is this close to a window's lower bound might sort either side of it
# (SQLite rounds to the millisecond in floating point), so it is only served from a wider window.
EDGE = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HALF_MS = timedelta(microseconds=500)


@dataclass
class Page:
    executions: list[WorkflowExecution]
    next_cursor: str | None
    total_count: int


def created_key(execution: WorkflowExecution) -> datetime:
    """When the job was created: its RecastCreatedAt, or its start for a workflow without it yet."""
    created = execution.typed_search_attributes.get(CREATED_AT_KEY)
    return created or execution.start_time


def encode_cursor(created: datetime, job_id: str) -> str:
    raw = json.dumps({"t": created.isoformat(), "id": job_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created = datetime.fromisoformat(data["t"])
        job_id = data["id"]
        if created.tzinfo is None or not isinstance(job_id, str):
            raise ValueError("incomplete")
    except (ValueError, TypeError, KeyError) as exc:
        raise ApiError(400, "invalid-input", "cursor: not a next_cursor this API returned") from exc
    return created, job_id


def _mid_ms(t: datetime, up: bool) -> datetime:
    """The middle of t's millisecond (up: of the first millisecond not before t)."""
    floor = t.replace(microsecond=t.microsecond // 1000 * 1000)
    if up and floor != t:
        floor += timedelta(milliseconds=1)
    return floor + HALF_MS


def _literal(t: datetime) -> str:
    return "'" + t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def _created_between(lo: datetime | None, hi: datetime | None) -> str:
    if lo is None and hi is None:
        return ""

    def within(field: str) -> str:
        parts = ([f"{field} > {_literal(lo)}"] if lo else []) + ([f"{field} < {_literal(hi)}"] if hi else [])
        return " AND ".join(parts)

    created = CREATED_AT_KEY.name
    return f" AND (({within(created)}) OR ({created} IS NULL AND {within('StartTime')}))"


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def _lower_bound(
    client: Client, base: str, hi: datetime | None, ref: datetime, want: int, older: int, scan_limit: int
) -> datetime | None:
    """A window (lo, hi) holding at least `want` jobs but not many more than scan_limit; None when the
    window would hold every job older than the cursor anyway."""
    short, width = timedelta(0), FIRST_WINDOW  # `short` is known to hold fewer than `want`
    while True:
        if ref - width <= EPOCH:
            return None
        n = await _count(client, base + _created_between(_mid_ms(ref - width, up=False), hi))
        if n >= older:
            return None
        if n >= want:
            break
        short, width = width, width * GROWTH
    while n > max(scan_limit, 2 * want) and width - short > 2 * EDGE:  # a burst of jobs: narrow it
        mid = short + (width - short) / 2
        m = await _count(client, base + _created_between(_mid_ms(ref - mid, up=False), hi))
        if m >= want:
            width, n = mid, m
        else:
            short = mid
    return _mid_ms(ref - width, up=False)


async def _list_all(client: Client, query: str) -> list[WorkflowExecution]:
    found: dict[str, WorkflowExecution] = {}
    async for execution in client.list_workflows(query, page_size=1000):
        if execution.id not in found or execution.start_time > found[execution.id].start_time:
            found[execution.id] = execution  # the latest run of a reused workflow ID
    return list(found.values())


async def list_page(
    client: Client,
    org: str,
    status: JobStatus | None,
    limit: int,
    cursor: str | None = None,
    scan_limit: int = SCAN_LIMIT,
    batch_id: str | None = None,
) -> Page:
    """One page of an organization's jobs (of one batch's, with `batch_id`), newest first: their
    executions (memo included)."""
    after = decode_cursor(cursor) if cursor else None
    base = base_query(org, status, batch_id)
    total = await _count(client, base)
    hi = _mid_ms(after[0], up=True) if after else None
    older = total if hi is None else await _count(client, base + _created_between(None, hi))
    ref = hi or datetime.now(UTC)
    want = limit + 1 + 8  # the next page's first job too, and some slack for ties and the edge
    lo = await _lower_bound(client, base, hi, ref, want, older, scan_limit) if older > scan_limit else None
    while True:
        listed = await _list_all(client, base + _created_between(lo, hi))
        keyed = sorted(
            ((created_key(e), e.id, e) for e in listed if after is None or (created_key(e), e.id) < after),
            key=lambda item: (item[0], item[1]),
            reverse=True,
        )
        if lo is not None:
            keyed = [item for item in keyed if item[0] > lo + EDGE]
            if len(keyed) <= limit:  # fewer than a page (plus one) surely in order: widen the window
                wider = ref - (ref - lo) * GROWTH
                lo = _mid_ms(wider, up=False) if wider > EPOCH else None
                if lo is not None and await _count(client, base + _created_between(lo, hi)) >= older:
                    lo = None
                continue
        break
    page = keyed[:limit]
    next_cursor = encode_cursor(page[-1][0], page[-1][1]) if len(keyed) > limit else None
    return Page([e for _, _, e in page], next_cursor, total)


async def list_jobs(
    store: JobStore,
    org: str,
    status: JobStatus | None,
    limit: int,
    cursor: str | None,
    batch_id: str | None = None,
) -> JobList:
    """One page of the organization's jobs, each Job read from its execution's memo (no per-job read;
    a partial or failed job also reads whether it was retried)."""
    try:
        page = await list_page(store.client, org, status, limit, cursor, batch_id=batch_id)
    except RPCError as err:
        raise ApiError(503, "unavailable", "the job store is not reachable; try again") from err

    async def read(execution: WorkflowExecution) -> Job | None:
        job = await store.from_listing(execution, org)
        return await store.with_retries(job) if job is not None else None

    jobs = await asyncio.gather(*(read(e) for e in page.executions))
    return JobList(
        data=[j for j in jobs if j is not None], next_cursor=page.next_cursor, total_count=page.total_count
    )
