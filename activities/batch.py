"""load_batch_page: one stored page of a batch's job requests, for the BatchJob workflow to start.

The API stores a batch's JobParams a page per object when it accepts the batch, so the workflow's input
stays small however many jobs the batch holds (workflows/batch.py says why).
"""

from __future__ import annotations

from pydantic import TypeAdapter
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from recast.core import contract
from recast.core.payloads import JobParams

PAGE = TypeAdapter(list[JobParams])


class BatchActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=contract.LOAD_BATCH_PAGE)
    async def load_batch_page(self, key: str) -> list[JobParams]:
        data = await self.deps.storage.read_bytes(key)
        if data is None:
            raise ApplicationError(f"the batch page {key} is not in storage", type="batch-page-missing")
        return PAGE.validate_json(data)
