"""Temporal visibility queries for an organization's jobs (listing them, counting the unfinished)."""

from __future__ import annotations

from recast.core.contract import BATCH_KEY, ORGANIZATION_KEY, RETRY_OF_KEY, STATUS_KEY, WORKFLOW_TYPE
from recast.core.job import JobStatus


def quote(value: str) -> str:
    """A visibility-query string literal: backslashes and single quotes escaped, so a value can never
    end the literal early."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def base_query(org: str, status: JobStatus | None, batch_id: str | None = None) -> str:
    """The organization's jobs (with `status`, only those; with `batch_id`, only that batch's). A retry
    run is not a job of its own (the job shows it in `attempts`), so it is left out."""
    query = (
        f"WorkflowType = {quote(WORKFLOW_TYPE)} AND {ORGANIZATION_KEY.name} = {quote(org)}"
        f" AND {RETRY_OF_KEY.name} IS NULL"
    )
    if batch_id is not None:
        query += f" AND {BATCH_KEY.name} = {quote(batch_id)}"
    if status is not None:
        query += f" AND {STATUS_KEY.name} = {quote(status.value)}"
    return query
