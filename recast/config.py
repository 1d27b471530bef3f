"""All of Recast's configuration, read from environment variables (documented in README)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

TASK_QUEUE_DEFAULT = "recast"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def parse_api_keys(raw: str) -> dict[str, str]:
    """`key=org,key2=org2` → {key: org}. A bare key belongs to org `default`."""
    keys: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, org = item.partition("=")
        keys[key.strip()] = org.strip() or "default"
    return keys


def read_or_create_secret(path: Path, prefix: str = "") -> str:
    """A random secret persisted at `path`; created once, atomically, so concurrent processes agree."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = prefix + secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    temporal_address: str = ""  # empty → the launcher starts a dev server
    temporal_namespace: str = "default"
    task_queue: str = TASK_QUEUE_DEFAULT
    storage_url: str = ""  # empty → fs under data_dir/storage
    api_keys: dict[str, str] = field(default_factory=dict)
    signing_secret: str = ""
    public_url: str = ""  # base of signed download URLs; empty → the request's own base URL
    max_upload_bytes: int = 2 * 1024**3
    url_ttl_s: int = 3600
    heartbeat_timeout_s: float = 30.0
    stall_timeout_s: float = 60.0
    encode_attempts: int = 3
    worker_activities: int = 4
    scratch_dir: Path = Path("var/scratch")
    read_cache_ms: int = 250  # how long a running job's read is shared; 0: every read is its own
    events_heartbeat_s: float = 30.0
    confirmation_timeout_s: float = 86400.0
    webhook_retry_s: float = 3600.0

    @property
    def storage(self) -> str:
        return self.storage_url or f"fs://{(self.data_dir / 'storage').resolve()}"


def load() -> Settings:
    data_dir = Path(_env("RECAST_DATA_DIR", "var"))
    secret = os.environ.get("RECAST_SIGNING_SECRET", "").strip() or read_or_create_secret(
        data_dir / "signing.key"
    )
    return Settings(
        host=_env("RECAST_HOST", "127.0.0.1"),
        port=_int("RECAST_PORT", 8000),
        data_dir=data_dir,
        temporal_address=_env("RECAST_TEMPORAL_ADDRESS", ""),
        temporal_namespace=_env("RECAST_TEMPORAL_NAMESPACE", "default"),
        task_queue=_env("RECAST_TASK_QUEUE", TASK_QUEUE_DEFAULT),
        storage_url=_env("RECAST_STORAGE_URL", ""),
        api_keys=parse_api_keys(_env("RECAST_API_KEYS", "")),
        signing_secret=secret,
        public_url=_env("RECAST_PUBLIC_URL", "").rstrip("/"),
        max_upload_bytes=_int("RECAST_MAX_UPLOAD_BYTES", 2 * 1024**3),
        url_ttl_s=_int("RECAST_URL_TTL", 3600),
        heartbeat_timeout_s=_float("RECAST_HEARTBEAT_TIMEOUT", 30.0),
        stall_timeout_s=_float("RECAST_STALL_TIMEOUT", 60.0),
        encode_attempts=_int("RECAST_ENCODE_ATTEMPTS", 3),
        worker_activities=_int("RECAST_WORKER_ACTIVITIES", 4),
        scratch_dir=Path(_env("RECAST_SCRATCH_DIR", str(data_dir / "scratch"))),
        read_cache_ms=_int("RECAST_READ_CACHE_MS", 250),
        events_heartbeat_s=_float("RECAST_EVENTS_HEARTBEAT", 30.0),
        confirmation_timeout_s=_float("RECAST_CONFIRMATION_TIMEOUT", 86400.0),
        webhook_retry_s=_float("RECAST_WEBHOOK_RETRY", 3600.0),
    )
