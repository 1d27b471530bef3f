"""The names the API and the workflow share in Temporal: the workflow type, the memo key of the Job, and
Recast's custom search attributes: set at start by the API, upserted by the workflow (so a job started
as another workflow's child has them too), filtered on by `GET /v1/jobs` and in the Temporal Web UI; and
the default task queue, which another project's parent workflow names too (`recast.client.child`).

Only `temporalio.common`: importable inside the workflow sandbox.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# The transcode workflow's registered name: the API starts it and lists it by this name.
WORKFLOW_TYPE = "TranscodeJob"
# The memo key under which a job's workflow keeps its Job (set at start, upserted as it changes): what
# the API reads for a job and for each listed execution.
JOB_MEMO = "job"

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
