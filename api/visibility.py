"""Temporal visibility queries for an organization's jobs (listing them, counting the unfinished)."""

from __future__ import annotations

from recast.core.contract import WORKFLOW_TYPE
from recast.core.job import JobStatus


def quote(value: str) -> str:
    """A visibility-query string literal: backslashes and single quotes escaped, so a value can never
    end the literal early."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def base_query(org: str, status: JobStatus | None) -> str:
    """The organization's jobs (with `status`, only those)."""
    query = f"WorkflowType = {quote(WORKFLOW_TYPE)} AND RecastOrganization = {quote(org)}"
    if status is not None:
        query += f" AND RecastStatus = {quote(status.value)}"
    return query
