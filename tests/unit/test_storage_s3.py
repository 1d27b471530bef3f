"""Pre-signed URLs without a store: local (fs) storage has none, the gateway signs its own /v1/files
tokens instead. The S3 tests, against moto's server, are in tests/e2e/test_storage_s3.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from recast.infra.storage import Storage


def test_local_storage_has_no_presigned_urls(tmp_path: Path) -> None:
    # fs keeps the gateway's /v1/files tokens: the caller gets None and signs one itself.
    async def ask() -> Any:
        return await Storage(f"fs://{tmp_path}").download_url("k", "a.mp4", "video/mp4", 60)

    assert asyncio.run(ask()) is None
