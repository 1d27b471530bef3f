"""Recast's custom search attributes: set at start by the API, upserted by the workflow (so a job started
as another workflow's child has them too), filtered on by `GET /v1/jobs` and in the Temporal Web UI; and
the default task queue, which another project's parent workflow names too (`recast.client.child`).

Only `temporalio.common`: importable inside the workflow sandbox.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE_DEFAULT = "recast"
"""The task queue Recast's workflow and activities run on unless RECAST_TASK_QUEUE names another."""

STATUS_KEY = SearchAttributeKey.for_keyword("RecastStatus")
ORGANIZATION_KEY = SearchAttributeKey.for_keyword("RecastOrganization")
PRIORITY_KEY = SearchAttributeKey.for_keyword("RecastPriority")
CREATED_AT_KEY = SearchAttributeKey.for_datetime("RecastCreatedAt")

# name → the type the dev server's `--search-attribute` flag and the operator API call it
SEARCH_ATTRIBUTES = {
    STATUS_KEY.name: "Keyword",
    ORGANIZATION_KEY.name: "Keyword",
    PRIORITY_KEY.name: "Keyword",
    CREATED_AT_KEY.name: "Datetime",
}
