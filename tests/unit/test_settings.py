"""The settings model (recast/infra/config.py): how RECAST_* variables are read, how a bad one is reported —
by `load()`, and by the worker, the API and `make run` at start — and that docs/configuration.md matches it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from recast.infra import config, config_text, keys
from recast.infra.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RECAST_* variable from the caller's shell; the data dir (and generated secret) under tmp_path."""
    for name in list(os.environ):
        if name.startswith("RECAST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RECAST_DATA_DIR", str(tmp_path))


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECAST_PORT", "abc", "RECAST_PORT: must be an integer between 1 and 65535, got 'abc'"),
        ("RECAST_PORT", "70000", "RECAST_PORT: must be an integer between 1 and 65535, got '70000'"),
        (
            "RECAST_WORKER_ACTIVITIES",
            "0",
            "RECAST_WORKER_ACTIVITIES: must be an integer of 1 or more, got '0'",
        ),
        ("RECAST_MAX_CONCURRENT_JOBS", "-1", "RECAST_MAX_CONCURRENT_JOBS: must be an integer of 0 or more"),
        ("RECAST_STALL_TIMEOUT", "-5", "RECAST_STALL_TIMEOUT: must be a number greater than 0, got '-5'"),
        ("RECAST_MAX_DURATION", "4h", "RECAST_MAX_DURATION: must be a number greater than 0, got '4h'"),
        ("RECAST_SHUTDOWN_GRACE", "soon", "RECAST_SHUTDOWN_GRACE: must be a number of 0 or more, got 'soon'"),
        ("RECAST_MAX_UPLOAD_BYTES", "2GB", "RECAST_MAX_UPLOAD_BYTES: must be an integer of 1 or more"),
        ("RECAST_URL_ALLOWLIST", "127.0.0.1/32, 10.0.0.0/99", "RECAST_URL_ALLOWLIST entry '10.0.0.0/99'"),
        ("RECAST_API_KEYS", "k1=acme,k2=bad org", "RECAST_API_KEYS: organization 'bad org'"),
    ],
)
def test_a_bad_value_is_named_with_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        config.load()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value), "one bad variable, one line"


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAST_PORT", "x")
    monkeypatch.setenv("RECAST_UPLOAD_TTL", "0")
    monkeypatch.setenv("RECAST_DATA_DIR", "")  # blank: the default, not an error
    with pytest.raises(ConfigError) as raised:
        config.load()
    assert [line.split(":")[0] for line in str(raised.value).splitlines()] == [
        "RECAST_PORT",
        "RECAST_UPLOAD_TTL",
    ]


def test_values_are_read_as_documented(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECAST_PORT", " 9000 ")
    monkeypatch.setenv("RECAST_HOST", "   ")  # blank → default
    monkeypatch.setenv("RECAST_UPLOAD_TTL", "60")
    monkeypatch.setenv("RECAST_MAX_DURATION", "90.5")
    monkeypatch.setenv("RECAST_SHUTDOWN_GRACE", "2.5")
    monkeypatch.setenv("RECAST_URL_ALLOWLIST", " 127.0.0.1/32 , minio:9000 ,")
    monkeypatch.setenv("RECAST_SIGNING_SECRET_PREVIOUS", "old1,old2")
    monkeypatch.setenv("RECAST_API_KEYS", "k1=acme, k2")
    monkeypatch.setenv("RECAST_API_KEYS_FILE", "")
    monkeypatch.setenv("RECAST_PUBLIC_URL", "https://media.example.com/")
    monkeypatch.setenv("RECAST_API_URL", "http://elsewhere")  # the CLI's: not a server setting, ignored
    s = config.load()
    assert (s.host, s.port, s.upload_ttl_s, s.max_duration_s, s.shutdown_grace_s) == (
        "127.0.0.1",
        9000,
        60,
        90.5,
        2.5,
    )
    assert s.url_allowlist == ("127.0.0.1/32", "minio:9000")
    assert s.signing_secrets_previous == ("old1", "old2")
    assert s.api_key_hashes == {keys.hash_key("k1"): "acme", keys.hash_key("k2"): "default"}
    assert s.api_keys_file is None
    assert s.public_url == "https://media.example.com"
    assert (s.data_dir, s.scratch_dir) == (tmp_path, tmp_path / "scratch")
    assert s.storage == f"fs://{(tmp_path / 'storage').resolve()}"


def test_signing_secret_is_generated_once_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = config.load().signing_secret
    assert first and (tmp_path / "signing.key").read_text() == first
    assert config.load().signing_secret == first
    monkeypatch.setenv("RECAST_SIGNING_SECRET", "given")
    assert config.load().signing_secret == "given"


def test_settings_constructed_directly_keep_their_field_names() -> None:
    s = Settings(
        data_dir=Path("/srv/recast"),
        upload_ttl_s=5,
        api_key_hashes={"h": "acme"},
        url_allowlist=("10.0.0.0/8",),
        shutdown_grace_s=1,
    )
    assert (s.upload_ttl_s, s.api_key_hashes, s.url_allowlist) == (5, {"h": "acme"}, ("10.0.0.0/8",))
    assert s.scratch_dir == Path("/srv/recast/scratch")
    assert s.signing_secret == "", "only load() generates a secret: constructing one touches no disk"
    with pytest.raises(ValidationError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="port"):
        Settings(port=0)
    with pytest.raises(ValidationError, match="unknown"):
        Settings(unknown=1)  # type: ignore[call-arg]


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert config_text.env_name(name, field).startswith("RECAST_")


def test_docs_table_is_generated_from_the_model() -> None:
    docs = config_text.DOCS.read_text()
    assert config_text.generated_section(docs) == config_text.markdown_table(Settings), (
        "docs/configuration.md is out of date: run .venv/bin/python -m recast.infra.config_text --write"
    )


def test_server_code_reads_recast_variables_only_through_settings() -> None:
    # The SDK and CLI (their own RECAST_API_URL/KEY) and the keys admin command (--file's default) are not servers.
    clients = {ROOT / "recast" / "client" / "base.py", ROOT / "recast" / "infra" / "keys.py"}
    files = [
        ROOT / "worker.py",
        *(p for d in ("api", "activities", "workflows", "recast") for p in (ROOT / d).rglob("*.py")),
    ]
    read = re.compile(r"""(environ\.get|environ\[|getenv)\(?\s*["']RECAST_""")
    offenders = [str(p.relative_to(ROOT)) for p in files if p not in clients and read.search(p.read_text())]
    assert not offenders, f"RECAST_* read outside recast/infra/config.py: {offenders}"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "worker.py"],
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"],
        [sys.executable, "-m", "recast.devstack.run"],
    ],
    ids=["worker", "api", "make-run"],
)
def test_a_process_with_a_bad_value_stops_with_its_message(command: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAST_")}
    env |= {"RECAST_DATA_DIR": str(tmp_path), "RECAST_PORT": "abc", "RECAST_STALL_TIMEOUT": "0"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "RECAST_PORT: must be an integer between 1 and 65535, got 'abc'" in done.stderr
    assert "RECAST_STALL_TIMEOUT: must be a number greater than 0, got '0'" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "signing.key").exists(), "nothing is created before the values are checked"
