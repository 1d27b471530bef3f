"""All of Recast's server configuration: one pydantic-settings model read from RECAST_* variables.

Each setting is declared once — name, type, default, allowed range, description — and everything else is
derived from that declaration: `load()` reads the environment and turns a bad value into a message naming
the variable (`ConfigError`), and `recast.infra.config_text` renders the table in docs/configuration.md.

The CLI client (`recast.client.cli`) reads RECAST_API_URL / RECAST_API_KEY itself: it runs elsewhere, talks
to the API over HTTP and must not need (or create) the server's settings.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from recast.core import chunking, watermark, webhooks
from recast.core.contract import TASK_QUEUE_DEFAULT
from recast.infra import keys, net
from recast.infra.config_text import explain

__all__ = ["TASK_QUEUE_DEFAULT", "ConfigError", "Settings", "load", "load_or_exit", "read_or_create_secret"]


class ConfigError(ValueError):
    """Bad RECAST_* values: one line per variable, naming it, what it allows and what it got."""


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes."""
    return webhooks.SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def read_or_create_secret(path: Path, prefix: str = "", new: Callable[[], str] | None = None) -> str:
    """A random secret persisted at `path` (`new()`, or `prefix` + random text); created once,
    atomically, so concurrent processes agree."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = new() if new else prefix + secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


class _Environment(EnvSettingsSource):
    """The environment as Recast has always read it: values stripped, and a blank value is unset.

    So `RECAST_PORT=` (as compose files and shell scripts often leave it) means the default, not an error.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, is_complex = super().get_field_value(field, field_name)
        if isinstance(value, str):
            value = value.strip() or None
        return value, key, is_complex


DAY = 86400
DURATION_FORMAT = "seconds, or a number with a unit: `30d`, `12h`, `90m`, `45s`"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")


def duration_seconds(value: Any) -> Any:
    """`30d`, `12h`, `90m`, `45s` → whole seconds; anything else is returned for the field to judge (a bare
    number is seconds, as every other duration setting reads it)."""
    if isinstance(value, str) and (m := _DURATION.match(value.strip().lower())):
        return round(float(m.group(1)) * _UNITS[m.group(2)])
    return value


def _extra(*, default: str | None = None, allowed: str | None = None) -> dict[str, Any]:
    """Documentation the type cannot say: a default that depends on others, or the accepted format."""
    return {k: v for k, v in (("shown_default", default), ("allowed", allowed)) if v is not None}


class Settings(BaseSettings):
    """The RECAST_* variables. Field `x` is read from `RECAST_X` unless its alias names the variable.

    `Settings(...)` also reads the environment (defaults < environment < arguments are pydantic-settings'
    precedence: arguments win); `load()` is the entry point of a process: it adds the generated signing secret.
    """

    model_config = SettingsConfigDict(
        env_prefix="RECAST_",
        frozen=True,
        extra="forbid",
        # Fields whose variable is not RECAST_<FIELD NAME> (RECAST_UPLOAD_TTL → upload_ttl_s) take their
        # name in Settings(...) too, as the code always has.
        validate_by_name=True,
        validate_by_alias=True,
    )

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    data_dir: Path = Field(
        default=Path("var"),
        description="Dev server database, local storage, scratch space and generated secrets.",
    )
    api_key_hashes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias="RECAST_API_KEYS",
        description="API keys and the organization of each (a bare key is org `default`). Hashed when read: "
        "only the SHA-256 of each key is kept.",
        json_schema_extra=_extra(
            default="none; `make run` generates one key for org `default` unless a keys file is set",
            allowed="comma-separated `key=org` pairs",
        ),
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="A file of hashed keys, one `sha256:<hex> <org>` per line, added to with "
        "`python -m recast.infra.keys add <org>`; re-read by the API when it changes.",
    )
    max_concurrent_jobs: int = Field(
        default=50,
        ge=0,
        description="Per organization: jobs not yet finished (`pending`, `probing`, `awaiting_confirmation`, "
        "`processing`) before `POST /v1/jobs` (or `/v1/optimize`) answers 429; `0`: no limit.",
    )
    max_submissions_per_minute: int = Field(
        default=120,
        ge=0,
        description="Per organization and API process: `POST /v1/jobs` and `POST /v1/optimize` requests in "
        "any 60 s before 429, and the same number of `POST /v1/uploads` in a window of their own; "
        "`0`: no limit.",
    )
    temporal_address: str = Field(
        default="",
        description="Deprecated: set Temporal's own `TEMPORAL_ADDRESS` (or a profile; see "
        "[temporal.md](temporal.md)). Used only when neither gives an address; then `make run` starts no "
        "dev server.",
        json_schema_extra=_extra(default="empty: `make run` starts a dev server"),
    )
    temporal_namespace: str = Field(
        default="default",
        description="Deprecated: set Temporal's own `TEMPORAL_NAMESPACE` (or a profile). Used only when "
        "neither gives a namespace.",
    )
    dev_temporal_port: int = Field(
        default=7233,
        ge=1,
        le=65535,
        description="`make run` only: the port of the Temporal dev server it starts (when no Temporal "
        "address is configured).",
    )
    dev_ui_port: int = Field(
        default=8233, ge=1, le=65535, description="`make run` only: the port of the dev server's Web UI."
    )
    task_queue: str = Field(
        default=TASK_QUEUE_DEFAULT, description="Task queue of the workflow and its activities."
    )
    storage_url: str = Field(
        default="",
        description="Where inputs and outputs are kept: `fs://path`, `s3://bucket/prefix`, "
        "`gs://bucket/prefix`, `memory://` (one process only).",
        json_schema_extra=_extra(default="`fs://$RECAST_DATA_DIR/storage`"),
    )
    s3_endpoint: str = Field(
        default="",
        description="S3 endpoint, e.g. `http://minio:9000` (path-style addressing); also used for `s3://` "
        "input URLs.",
        json_schema_extra=_extra(default="AWS's"),
    )
    s3_public_endpoint: str = Field(
        default="",
        description="The endpoint clients reach S3 at, put in pre-signed URLs (a signature covers the host).",
        json_schema_extra=_extra(default="`RECAST_S3_ENDPOINT`"),
    )
    s3_region: str = Field(default="us-east-1", description="S3 signing region.")
    s3_access_key_id: str = Field(
        default="",
        description="S3 access key; when set (with the secret), nothing else is looked up.",
        json_schema_extra=_extra(default="empty: AWS's own discovery (environment, IAM role)"),
    )
    s3_secret_access_key: str = Field(
        default="",
        description="S3 secret key, with `RECAST_S3_ACCESS_KEY_ID`.",
        json_schema_extra=_extra(default="empty: AWS's own discovery (environment, IAM role)"),
    )
    gcs_endpoint: str = Field(
        default="",
        description="GCS endpoint; also used for `gs://` input URLs.",
        json_schema_extra=_extra(default="`https://storage.googleapis.com`"),
    )
    gcs_credential: str = Field(
        default="",
        description="A service-account JSON: its path, or its base64 (needed to pre-sign URLs).",
        json_schema_extra=_extra(default="empty: Google's own discovery (VM metadata)"),
    )
    gcs_token: str = Field(
        default="", description="A fixed OAuth2 token instead of the credential's token exchange (emulators)."
    )
    upload_ttl_s: int = Field(
        default=86400,
        ge=1,
        validation_alias="RECAST_UPLOAD_TTL",
        description="Lifetime of an upload URL from `POST /v1/uploads`, seconds (how long the bytes may be "
        "sent; the uploaded file itself is kept for `RECAST_OUTPUT_TTL`).",
    )
    job_retention_s: int = Field(
        default=30 * DAY,
        ge=DAY,
        validation_alias="RECAST_JOB_RETENTION",
        description="How long a finished job stays readable (`GET /v1/jobs/{id}`, the list): the Temporal "
        "namespace's retention of closed workflows, which the worker sets at start (a warning if it may not).",
        json_schema_extra=_extra(default="`2592000` (30 days)", allowed=DURATION_FORMAT + ", at least 1 day"),
    )
    output_ttl_s: int = Field(
        default=30 * DAY,
        ge=0,
        validation_alias="RECAST_OUTPUT_TTL",
        description="How long a finished job's files (input copy, outputs) are kept after it ends, and an "
        "upload after it was created; then the cleanup schedule deletes them and downloads answer 410 "
        "`expired`. `0` keeps them. API and workers must agree.",
        json_schema_extra=_extra(default="`2592000` (30 days)", allowed=DURATION_FORMAT + "; `0`: keep"),
    )
    cleanup_interval_s: int = Field(
        default=3600,
        ge=1,
        validation_alias="RECAST_CLEANUP_INTERVAL",
        description="How often the cleanup schedule (`<task queue>-cleanup` in Temporal) deletes expired "
        "files.",
        json_schema_extra=_extra(allowed=DURATION_FORMAT),
    )
    signing_secret: str = Field(
        default="",
        description="HMAC secret for download tokens; API and workers must share it.",
        json_schema_extra=_extra(default="generated into `$RECAST_DATA_DIR/signing.key`"),
    )
    signing_secrets_previous: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias="RECAST_SIGNING_SECRET_PREVIOUS",
        description="Former signing secrets: tokens they signed still verify (until they expire); new "
        "tokens are always signed with `RECAST_SIGNING_SECRET`.",
        json_schema_extra=_extra(allowed="comma-separated list"),
    )
    webhook_secret: str = Field(
        default="",
        description="Standard Webhooks signing secret (`whsec_` + base64 of 24–64 random bytes): every "
        "delivery's `webhook-signature`; the workers sign, receivers verify.",
        json_schema_extra=_extra(default="generated into `$RECAST_DATA_DIR/webhook.key`"),
    )
    webhook_secrets_previous: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias="RECAST_WEBHOOK_SECRET_PREVIOUS",
        description="Former webhook secrets, during a rotation: deliveries carry a signature with each "
        "(space-separated in `webhook-signature`), so receivers still on an old secret verify them.",
        json_schema_extra=_extra(allowed="comma-separated list"),
    )
    url_allowlist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="CIDRs, IPs or host names, each optionally `:port` (`10.0.0.0/8`, `127.0.0.1:8080`, "
        "`[::1]:9000`, `minio:9000`), that `input_url` and `webhook_url` may reach besides public "
        "addresses; a cloud metadata address needs an entry naming it exactly.",
        json_schema_extra=_extra(default="empty: public addresses only", allowed="comma-separated list"),
    )
    public_url: str = Field(
        default="",
        description="Base of the download URLs the API hands out.",
        json_schema_extra=_extra(default="the request's own base URL"),
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Web origins (`https://app.example.com`, scheme, host and port as a browser sends them) "
        "allowed to call the API, upload (`/v1/uploads`, `/v1/tus/`) and read `/v1/files/…` from their "
        "pages (CORS); `*` allows any origin.",
        json_schema_extra=_extra(
            default="none: no cross-origin browser access", allowed="comma-separated list"
        ),
    )
    url_ttl_s: int = Field(
        default=3600,
        ge=1,
        validation_alias="RECAST_URL_TTL",
        description="Lifetime of a download URL (a gateway token or an S3/GCS pre-signed URL), seconds.",
    )
    max_upload_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="Largest upload or fetched input, bytes."
    )
    max_duration_s: float = Field(
        default=4 * 3600.0,
        gt=0,
        validation_alias="RECAST_MAX_DURATION",
        description="Longest input in media seconds; longer → failed with `too-long` at probe.",
    )
    # A small file can hold a huge image, and every decoder and filter downstream holds several frames of it.
    max_pixels: int = Field(
        default=100_000_000,
        ge=1,
        description="Largest input frame, width × height (100 MP); larger → failed with `too-large` at "
        "probe, before anything else decodes it.",
    )
    watermark_max_bytes: int = Field(default=10 * 1024**2, ge=1, description=watermark.WATERMARK_BYTES_DOC)
    fetch_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="RECAST_FETCH_TIMEOUT",
        description="Seconds an `input_url` download may take start to end; slower → failed with `too-slow`.",
    )
    heartbeat_timeout_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="RECAST_HEARTBEAT_TIMEOUT",
        description="Seconds without a heartbeat before an encode is retried on another worker.",
    )
    stall_timeout_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias="RECAST_STALL_TIMEOUT",
        description=(
            "Seconds without ffmpeg progress before an encode is killed and retried (for one picture or a "
            "sprite sheet, where ffmpeg reports nothing until done: without progress and without CPU use)."
        ),
    )
    encode_attempts: int = Field(default=3, ge=1, description="Attempts per rendition before it fails.")
    upload_attempts: int = Field(
        default=8,
        ge=1,
        description="Attempts to store a finished rendition (with backoff) before it fails; the encode is "
        "not repeated for them.",
    )
    upload_pickup_timeout_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias="RECAST_UPLOAD_PICKUP_TIMEOUT",
        description="Seconds the upload of a finished rendition waits for the worker that encoded it (the "
        "only one with the file) to pick it up; past that the worker is taken as gone and the rendition "
        "is encoded again on another.",
    )
    worker_activities: int = Field(default=4, ge=1, description="Activities one worker runs at once.")
    worker_nice: int = Field(default=10, ge=0, le=19, description=chunking.WORKER_NICE_DOC)
    chunk_slots: int = Field(default=1, ge=1, description=chunking.CHUNK_SLOTS_DOC)
    chunk_duration_s: float = Field(
        default=10.0,
        ge=1,
        le=600,
        validation_alias="RECAST_CHUNK_DURATION",
        description=chunking.CHUNK_DURATION_DOC,
    )
    chunking_min_duration_s: float = Field(
        default=30.0,
        ge=0,
        validation_alias="RECAST_CHUNKING_MIN_DURATION",
        description=chunking.CHUNKING_MIN_DOC,
    )
    workers: int = Field(default=1, ge=1, le=64, description=chunking.WORKERS_DOC)
    scratch_dir: Path = Field(
        default_factory=lambda data: Path(data.get("data_dir", "var")) / "scratch",
        description="Worker's local working space.",
        json_schema_extra=_extra(default="`$RECAST_DATA_DIR/scratch`"),
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        validation_alias="RECAST_SHUTDOWN_GRACE",
        description="Seconds a stopping worker lets running activities finish before they are retried "
        "elsewhere.",
    )
    confirmation_timeout_s: float = Field(
        default=86400.0,
        gt=0,
        validation_alias="RECAST_CONFIRMATION_TIMEOUT",
        description="Seconds a `delayed_start` job waits for confirmation before it is canceled.",
    )
    webhook_retry_s: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="RECAST_WEBHOOK_RETRY",
        description="Seconds a webhook delivery is retried (exponential backoff) before it is given up.",
    )
    read_cache_ms: int = Field(
        default=250,
        ge=0,
        description="Milliseconds a running job's read is shared: concurrent polls and watchers of a job wait "
        "for one describe, and its result is served again for this long; `0` makes every read its own.",
    )
    read_wait_ms: int = Field(
        default=20,
        ge=0,
        description="Milliseconds a poll (`GET /v1/jobs/{id}`) of a running job waits for Temporal (not at all "
        "while recent reads were slower) before it gets the job's last read, with an `Age` header, the read "
        "going on for the next poll (`RECAST_READ_MAX_AGE_MS`). `Cache-Control: no-cache` waits for a fresh read.",
    )
    read_max_age_ms: int = Field(
        default=10000,
        ge=0,
        description="Oldest last read of a running job a poll may be answered with when Temporal is slower than "
        "`RECAST_READ_WAIT_MS`; `0` makes every poll wait for Temporal.",
    )
    events_heartbeat_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="RECAST_EVENTS_HEARTBEAT",
        description="Seconds between `heartbeat` events of `GET /v1/jobs/{id}/events`.",
    )
    optimize_wait_s: float = Field(
        default=60.0,
        ge=0,
        validation_alias="RECAST_OPTIMIZE_WAIT",
        description="Longest `POST /v1/optimize` waits for its job before answering 202 (`?wait=` asks less), "
        "seconds.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines of the API and the workers: `text` (readable) or `json` (one object per line, "
        "for a log shipper); lines about a job carry its job, output and attempt (see operations.md).",
        json_schema_extra=_extra(allowed="`text` or `json`"),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="Least severe level logged.",
        json_schema_extra=_extra(allowed="`DEBUG`, `INFO`, `WARNING` or `ERROR`"),
    )

    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus endpoint (`/metrics`: the Temporal SDK's `temporal_*` "
        "metrics and Recast's `recast_*`); `0`: no endpoint, nothing recorded.",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the worker's metrics endpoint listens on (`0.0.0.0` for a scraper on another "
        "host or container).",
    )
    api_metrics: bool = Field(
        default=True,
        description="Serve the API's Prometheus metrics at `/metrics` (requests, submissions, rejections); "
        "`false`: no route, nothing recorded.",
        json_schema_extra=_extra(default="`true`", allowed="`true` or `false` (also `1`/`0`, `yes`/`no`)"),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, then the environment; no .env or secrets directory: Recast never read them.
        return init_settings, _Environment(settings_cls)

    @field_validator(
        "signing_secrets_previous", "url_allowlist", "webhook_secrets_previous", "cors_origins", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """A variable's `a, b,` → ("a", "b"): items stripped, empty ones dropped; a tuple passes as given."""
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("webhook_secret", "webhook_secrets_previous")
    @classmethod
    def _whsec(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for secret in (value,) if isinstance(value, str) else value:
            if secret:
                webhooks.secret_bytes(secret)  # ValueError naming what is wrong
        return value

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The secrets deliveries are signed with: the current one first, then the previous ones."""
        return tuple(s for s in (self.webhook_secret, *self.webhook_secrets_previous) if s)

    @field_validator("job_retention_s", "output_ttl_s", "cleanup_interval_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return duration_seconds(value)

    @field_validator("url_allowlist")
    @classmethod
    def _parsable_allowlist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        net.UrlPolicy.parse(value)  # a bad entry stops the process at start, not at its first fetch
        return value

    @field_validator("api_key_hashes", mode="before")
    @classmethod
    def _hash_keys(cls, value: Any) -> Any:
        """The variable's `key=org,…` → {sha256: org}; a dict (already hashes) passes as given."""
        return keys.parse_env(value) if isinstance(value, str) else value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each an origin as a browser sends it (`Origin:` never has a path or a trailing slash)."""
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+/?", origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com (no path)")
        return tuple(o.rstrip("/") for o in value)

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def storage(self) -> str:
        return self.storage_url or f"fs://{(self.data_dir / 'storage').resolve()}"


def load() -> Settings:
    """This process's settings: the environment, and the signing secret generated on first use.

    Raises ConfigError (a ValueError) naming each bad variable; `load_or_exit` is for process entry points.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(explain(exc, Settings)) from None
    if not settings.signing_secret:
        secret = read_or_create_secret(settings.data_dir / "signing.key")
        settings = settings.model_copy(update={"signing_secret": secret})
    if not settings.webhook_secret:
        secret = read_or_create_secret(settings.data_dir / "webhook.key", new=new_webhook_secret)
        settings = settings.model_copy(update={"webhook_secret": secret})
    return settings


def load_or_exit() -> Settings:
    """`load()` for a process start: bad values end the process with their message, not a traceback."""
    try:
        return load()
    except ConfigError as exc:
        raise SystemExit(f"recast: bad configuration\n{exc}") from None
