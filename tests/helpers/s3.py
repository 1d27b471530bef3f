"""An S3-compatible server on loopback (moto in server mode) with Recast's storage bucket, and the
settings of a stack that keeps its files there: shared by the S3 storage tests and the tus and range
tests on S3."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from recast.devstack.stack import free_port, wait_for_port
from recast.infra.config import Settings
from recast.infra.storage import Storage

BUCKET, PREFIX, INPUTS = "recast-media", "tenants", "customer-inputs"
ACCESS_KEY, SECRET_KEY, REGION = "recast-test-access", "recast-test-secret", "us-east-1"


@contextlib.contextmanager
def s3_server(log_dir: Path, buckets: tuple[str, ...] = (BUCKET, INPUTS)) -> Iterator[str]:
    """moto's S3 server on a free loopback port with `buckets` made; yields its endpoint URL."""
    port = free_port()
    log = (log_dir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, proc)
        endpoint = f"http://127.0.0.1:{port}"
        for bucket in buckets:
            httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


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
