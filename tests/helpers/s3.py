"""Recast's storage on moto's S3 server (tests/helpers/servers.py `moto_s3`): its buckets, the settings of
a stack that keeps its files there, and the storage as that stack sees it (for the tus and range tests
on S3)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from recast.infra.config import Settings
from recast.infra.storage import Storage
from tests.helpers.servers import moto_s3

BUCKET, PREFIX, INPUTS = "recast-media", "tenants", "customer-inputs"
ACCESS_KEY, SECRET_KEY, REGION = "recast-test-access", "recast-test-secret", "us-east-1"


@contextlib.contextmanager
def s3_server(log_dir: Path, buckets: tuple[str, ...] = (BUCKET, INPUTS)) -> Iterator[str]:
    """moto's S3 server (tests/helpers/servers.py) with Recast's storage bucket and an input bucket."""
    with moto_s3(log_dir, buckets) as endpoint:
        yield endpoint


def s3_env(endpoint: str, **extra: str) -> dict[str, str]:
    """A stack's settings for storage in the S3 server at `endpoint`."""
    return {
        "RECAST_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
        "RECAST_S3_ENDPOINT": endpoint,
        "RECAST_S3_REGION": REGION,
        "RECAST_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "RECAST_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        **extra,
    }


def s3_storage(endpoint: str) -> Storage:
    """Recast's storage in that server, as the stack sees it (to look at what was stored)."""
    settings = Settings(
        s3_endpoint=endpoint, s3_region=REGION, s3_access_key_id=ACCESS_KEY, s3_secret_access_key=SECRET_KEY
    )
    return Storage(f"s3://{BUCKET}/{PREFIX}", settings)
