"""Identifiers: `job_…` (also the workflow ID) and `out_…`."""

from __future__ import annotations

import secrets


def job_id() -> str:
    return "job_" + secrets.token_hex(10)


def output_id() -> str:
    return "out_" + secrets.token_hex(6)
