"""Where Recast connects to Temporal: Temporal's own variables and profiles first, the deprecated
RECAST_TEMPORAL_* only where those leave the address or namespace unset, blank variables unset."""

from __future__ import annotations

from pathlib import Path

from recast.infra.config import Settings
from recast.infra.temporal import DEFAULT_ADDRESS, target
from tests.helpers.launcher import clean_env


def test_nothing_configured_is_the_local_default() -> None:
    where = target(Settings(), clean_env())
    assert (where.address, where.namespace, where.configured) == (DEFAULT_ADDRESS, "default", False)
    assert not where.uses_tls


def test_recast_variables_are_a_fallback_for_temporal_ones() -> None:
    settings = Settings(temporal_address="10.0.0.1:7233", temporal_namespace="old")
    alone = target(settings, clean_env())
    assert (alone.address, alone.namespace, alone.configured) == ("10.0.0.1:7233", "old", True)
    assert alone.source == "RECAST_TEMPORAL_ADDRESS (deprecated)"
    both = target(settings, clean_env(TEMPORAL_ADDRESS="t.example:7233", TEMPORAL_NAMESPACE="jobs"))
    assert (both.address, both.namespace, both.source) == ("t.example:7233", "jobs", "TEMPORAL_ADDRESS")


def test_an_api_key_turns_tls_on_and_is_never_shown() -> None:
    where = target(
        Settings(), clean_env(TEMPORAL_ADDRESS="ns.acct.tmprl.cloud:7233", TEMPORAL_API_KEY="s3cr3t")
    )
    assert where.uses_tls and where.connect_kwargs()["tls"] is True
    assert "API key set" in where.describe() and "s3cr3t" not in where.describe()


def test_blank_temporal_variables_are_unset() -> None:
    # As compose passes them (`${TEMPORAL_API_KEY:-}`): Temporal's loader alone would turn TLS on.
    where = target(
        Settings(),
        clean_env(
            TEMPORAL_ADDRESS=" ", TEMPORAL_API_KEY="", TEMPORAL_TLS="", TEMPORAL_TLS_SERVER_CA_CERT_PATH=""
        ),
    )
    assert not where.configured and not where.uses_tls


def test_a_profile_names_its_file_and_tls_settings(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "media"\n'
        '[profile.prod.tls]\nclient_cert_path = "/certs/c.pem"\nclient_key_path = "/certs/c.key"\n'
    )
    where = target(Settings(), clean_env(TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="prod"))
    assert (where.address, where.namespace) == ("prod.example:7233", "media")
    assert where.source == f"profile 'prod' of {config}"
    assert "client certificate /certs/c.pem / key /certs/c.key" in where.describe()
