"""Identifiers: `job_…` (also the workflow ID), `out_…` and `bat_…` (a batch, also its workflow ID)."""

from __future__ import annotations

import hashlib
import secrets


def job_id() -> str:
    return "job_" + secrets.token_hex(10)


def output_id() -> str:
    return "out_" + secrets.token_hex(6)


def idempotent_job_id(organization: str, key: str) -> str:
    """The job ID an idempotency key stands for: the same for the same organization and key, so Temporal's
    workflow-ID uniqueness makes the second submission find the first; other organizations never collide."""
    digest = hashlib.sha256(f"{organization}\0{key}".encode()).hexdigest()
    return "job_" + digest[:20]


def batch_id() -> str:
    return "bat_" + secrets.token_hex(10)
