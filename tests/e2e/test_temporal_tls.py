"""Connecting by Temporal's own configuration (TEMPORAL_* variables and TOML profiles) through a
TLS-terminating proxy in front of the session's dev server: server TLS, mutual TLS (a client without the
certificate is refused, and the error says why), and a whole job through it with `make run`'s launcher
configured only by the TLS environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from recast.devstack.stack import ROOT, Stack
from recast.infra.config import Settings
from recast.infra.temporal import TemporalConnectionError, connect, target
from tests.helpers import Api
from tests.helpers.launcher import Launcher, clean_env, listening
from tests.helpers.stacks import API_KEY, SHARED_QUEUE, STACK_ENV
from tests.helpers.tls import Certs, make_certs, tls_proxy

H264 = {"type": "mp4", "video": {"codec": "h264", "resolution": "480p", "quality": "economy"}}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_address(temporal: Stack, certs: Certs) -> Iterator[str]:
    with tls_proxy(temporal.env["TEMPORAL_ADDRESS"], certs) as address:
        yield address


@pytest.fixture(scope="module")
def mtls_address(temporal: Stack, certs: Certs) -> Iterator[str]:
    with tls_proxy(temporal.env["TEMPORAL_ADDRESS"], certs, require_client_cert=True) as address:
        yield address


base_env = clean_env


def server_name(env: dict[str, str]) -> str:
    """Connect and ask the server who it is: proof the whole gRPC path works."""

    async def ask() -> str:
        client = await connect(Settings(), env=env)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        return str(info.server_version)

    return asyncio.run(ask())


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(TemporalConnectionError) as err:
        server_name(env)
    return str(err.value)


def test_server_tls_with_the_ca_from_the_environment(tls_address: str, certs: Certs) -> None:
    env = base_env(TEMPORAL_ADDRESS=tls_address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(certs.ca))
    assert server_name(env)
    assert target(Settings(), env).uses_tls


def test_server_tls_from_a_toml_profile(tls_address: str, certs: Certs, tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f'[profile.staging]\naddress = "{tls_address}"\nnamespace = "default"\n'
        f'[profile.staging.tls]\nserver_ca_cert_path = "{certs.ca}"\n'
    )
    env = base_env(TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="staging")
    assert server_name(env)
    assert target(Settings(), env).source == f"profile 'staging' of {config}"


def test_an_untrusted_server_certificate_is_refused_naming_the_ca_setting(
    tls_address: str, certs: Certs
) -> None:
    message = refusal(
        base_env(TEMPORAL_ADDRESS=tls_address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(certs.other_ca))
    )
    assert tls_address in message
    assert f"server CA {certs.other_ca}" in message
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" in message


def test_mtls_refuses_a_client_without_a_certificate_and_says_why(mtls_address: str, certs: Certs) -> None:
    message = refusal(base_env(TEMPORAL_ADDRESS=mtls_address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(certs.ca)))
    assert f"cannot connect to Temporal at {mtls_address}" in message
    assert "no client certificate" in message
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH" in message


def test_mtls_accepts_the_client_certificate(mtls_address: str, certs: Certs) -> None:
    env = base_env(
        TEMPORAL_ADDRESS=mtls_address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(certs.ca),
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(certs.client_cert),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(certs.client_key),
    )
    assert server_name(env)


def test_the_cli_checks_the_connection_and_the_workers(
    tls_address: str, mtls_address: str, certs: Certs, stack: Stack
) -> None:
    ca = {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca), "RECAST_TASK_QUEUE": SHARED_QUEUE}
    done = cli(base_env(TEMPORAL_ADDRESS=tls_address, **ca))
    assert done.returncode == 0, done.stderr
    assert f"Temporal at {tls_address}, namespace default: reachable" in done.stdout
    workflow_pollers = int(done.stdout.split(f"task queue {SHARED_QUEUE!r}: ")[1].split()[0])
    assert workflow_pollers >= 1, done.stdout  # the shared stack's worker
    refused = cli(base_env(TEMPORAL_ADDRESS=mtls_address, **ca))
    assert refused.returncode == 2
    assert f"cannot connect to Temporal at {mtls_address}" in refused.stderr
    assert "no client certificate" in refused.stderr
    assert "Traceback" not in refused.stderr


def cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recast.client.cli", "check-temporal"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_make_run_uses_a_configured_temporal_over_mtls_and_a_job_completes(
    mtls_address: str, certs: Certs, clips: dict[str, Path], tmp_path: Path
) -> None:
    launcher = Launcher.start(
        tmp_path / "data",
        **STACK_ENV,
        TEMPORAL_ADDRESS=mtls_address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(certs.ca),
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(certs.client_cert),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(certs.client_key),
        RECAST_TASK_QUEUE=f"tls-{os.getpid()}",
    )
    try:
        output = launcher.wait_for("Recast is running.")
        assert f"using the Temporal at {mtls_address}" in output
        assert "no dev server started" in output
        assert not listening(launcher.temporal_port), "a dev server was started anyway"
        api = Api(f"http://127.0.0.1:{launcher.api_port}", API_KEY)
        job = api.wait(api.submit(clips["small"], [H264])["id"], timeout=120)
        assert job["status"] == "completed", job
        assert api.fetch_output(job, 0, tmp_path / "out.mp4")["streams"][0]["codec_name"] == "h264"
    finally:
        launcher.stop()
