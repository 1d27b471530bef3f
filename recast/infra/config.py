"""All of Recast's configuration, read from environment variables (documented in README)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

# The default task queue is part of the Temporal contract (a child workflow names it too); kept
# importable from here for the settings' users.
from recast.core.contract import TASK_QUEUE_DEFAULT
from recast.infra import keys


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _list(name: str) -> tuple[str, ...]:
    """A comma-separated variable, items stripped, empty ones dropped."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


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
    # Object storage (s3:// and gs:// in RECAST_STORAGE_URL and in input URLs); empty → provider defaults.
    s3_endpoint: str = ""
    s3_public_endpoint: str = ""  # endpoint put in pre-signed URLs, when clients reach S3 elsewhere
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    gcs_endpoint: str = ""
    gcs_credential: str = ""  # path to, or base64 of, a service-account JSON
    gcs_token: str = ""  # a fixed OAuth2 token instead of the credential's token exchange (emulators)
    upload_ttl_s: int = 86400  # lifetime of an upload URL from POST /v1/uploads
    # SHA-256 hex of each RECAST_API_KEYS key → its organization: the keys themselves are not kept.
    api_key_hashes: dict[str, str] = field(default_factory=dict)
    api_keys_file: Path | None = None  # hashed keys, re-read by the API when it changes (recast.infra.keys)
    signing_secret: str = ""
    public_url: str = ""  # base of signed download URLs; empty → the request's own base URL
    max_upload_bytes: int = 2 * 1024**3
    max_duration_s: float = 4 * 3600.0  # longest input, in media seconds
    # Largest frame (width × height) of an input: a small file can hold a huge image, and every
    # decoder and filter downstream holds several frames of it in memory.
    max_pixels: int = 100_000_000
    fetch_timeout_s: float = 3600.0  # longest an input download may take, start to end
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
    # Extra targets input and webhook URLs may reach besides public addresses (recast.infra.net): CIDRs,
    # IPs or host names, each optionally `:port`.
    url_allowlist: tuple[str, ...] = ()
    # Former signing secrets: download tokens they signed still verify; new tokens use signing_secret.
    signing_secrets_previous: tuple[str, ...] = ()
    max_concurrent_jobs: int = 50  # per organization, jobs not yet finished; 0: no limit
    max_submissions_per_minute: int = 120  # per organization and API process; 0: no limit
    optimize_wait_s: float = 60.0  # longest POST /v1/optimize waits for its job before answering 202

    @property
    def storage(self) -> str:
        return self.storage_url or f"fs://{(self.data_dir / 'storage').resolve()}"


def load() -> Settings:
    data_dir = Path(_env("RECAST_DATA_DIR", "var"))
    secret = os.environ.get("RECAST_SIGNING_SECRET", "").strip() or read_or_create_secret(
        data_dir / "signing.key"
    )
    allowlist = _list("RECAST_URL_ALLOWLIST")
    # Imported here: recast.client.child imports this module into workflow sandboxes, which need no httpx.
    from recast.infra.net import UrlPolicy

    UrlPolicy.parse(allowlist)  # a bad entry stops the process at start, not at its first fetch
    return Settings(
        host=_env("RECAST_HOST", "127.0.0.1"),
        port=_int("RECAST_PORT", 8000),
        data_dir=data_dir,
        temporal_address=_env("RECAST_TEMPORAL_ADDRESS", ""),
        temporal_namespace=_env("RECAST_TEMPORAL_NAMESPACE", "default"),
        task_queue=_env("RECAST_TASK_QUEUE", TASK_QUEUE_DEFAULT),
        storage_url=_env("RECAST_STORAGE_URL", ""),
        s3_endpoint=_env("RECAST_S3_ENDPOINT", ""),
        s3_public_endpoint=_env("RECAST_S3_PUBLIC_ENDPOINT", ""),
        s3_region=_env("RECAST_S3_REGION", "us-east-1"),
        s3_access_key_id=_env("RECAST_S3_ACCESS_KEY_ID", ""),
        s3_secret_access_key=_env("RECAST_S3_SECRET_ACCESS_KEY", ""),
        gcs_endpoint=_env("RECAST_GCS_ENDPOINT", ""),
        gcs_credential=_env("RECAST_GCS_CREDENTIAL", ""),
        gcs_token=_env("RECAST_GCS_TOKEN", ""),
        upload_ttl_s=_int("RECAST_UPLOAD_TTL", 86400),
        api_key_hashes=keys.parse_env(_env("RECAST_API_KEYS", "")),
        api_keys_file=Path(keys_file) if (keys_file := _env("RECAST_API_KEYS_FILE", "")) else None,
        signing_secret=secret,
        public_url=_env("RECAST_PUBLIC_URL", "").rstrip("/"),
        max_upload_bytes=_int("RECAST_MAX_UPLOAD_BYTES", 2 * 1024**3),
        max_duration_s=_float("RECAST_MAX_DURATION", 4 * 3600.0),
        max_pixels=_int("RECAST_MAX_PIXELS", 100_000_000),
        fetch_timeout_s=_float("RECAST_FETCH_TIMEOUT", 3600.0),
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
        url_allowlist=allowlist,
        signing_secrets_previous=_list("RECAST_SIGNING_SECRET_PREVIOUS"),
        max_concurrent_jobs=_int("RECAST_MAX_CONCURRENT_JOBS", 50),
        max_submissions_per_minute=_int("RECAST_MAX_SUBMISSIONS_PER_MINUTE", 120),
        optimize_wait_s=_float("RECAST_OPTIMIZE_WAIT", 60.0),
    )
