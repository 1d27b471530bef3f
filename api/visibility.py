"""Temporal visibility queries for an organization's jobs (listing them, counting the unfinished)."""

from __future__ import annotations

from recast.core.contract import ORGANIZATION_KEY, STATUS_KEY, WORKFLOW_TYPE
from recast.core.job import JobStatus


def quote(value: str) -> str:
    """A visibility-query string literal: backslashes and single quotes escaped, so a value can never
    end the literal early."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def base_query(org: str, status: JobStatus | None) -> str:
    """The organization's jobs (with `status`, only those)."""
    query = f"WorkflowType = {quote(WORKFLOW_TYPE)} AND {ORGANIZATION_KEY.name} = {quote(org)}"
    if status is not None:
        query += f" AND {STATUS_KEY.name} = {quote(status.value)}"
    return query
