"""Per-organization limits without a stack: the submissions-per-minute window slides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from api.errors import ApiError
from api.limits import Limits


class FakeClient:
    """Visibility with nothing in it: only the in-process parts of the limits are exercised."""

    async def count_workflows(self, query: str) -> Any:
        return SimpleNamespace(count=0)

    def list_workflows(self, query: str) -> AsyncIterator[Any]:
        async def none() -> AsyncIterator[Any]:
            return
            yield

        return none()


def test_the_window_slides() -> None:
    now = [1000.0]
    limits = Limits(FakeClient(), 0, 3, clock=lambda: now[0])  # type: ignore[arg-type]
    unlimited = Limits(FakeClient(), 0, 0, clock=lambda: now[0])  # type: ignore[arg-type]

    async def run() -> None:
        for at in (1000.0, 1010.0, 1020.0):
            now[0] = at
            await limits.admit("acme")
        now[0] = 1030.0
        with pytest.raises(ApiError) as refused:
            await limits.admit("acme")
        assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "30"}
        await limits.admit("globex")  # a window of its own
        now[0] = 1060.0  # the first submission has left the window
        await limits.admit("acme")
        with pytest.raises(ApiError) as refused:
            await limits.admit("acme")
        assert refused.value.headers == {"Retry-After": "10"}
        for _ in range(1000):  # 0 means no limit
            await unlimited.admit("acme")

    asyncio.run(run())
