"""SSRF end to end: input and webhook URLs cannot reach loopback, private, link-local or metadata
addresses.

An API and worker of their own run *without* the test suite's loopback allowlist, except one port: the
"public" server, whose redirects must not lead into loopback. The guard itself (recast/infra/net.py,
with a stub resolver and network backend) is tested without a stack in tests/unit/test_ssrf.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from recast.devstack.stack import Stack, free_port
from tests.helpers import Api, Server, new_stack, serving

MP4 = [{"type": "mp4", "video": {"codec": "h264", "resolution": "480p"}}]


# ---------------------------------------------------------------- address classification ------------------


# ---------------------------------------------------------------- the allowlist ----------------------------


# ---------------------------------------------------------------- submit-time check ------------------------


# ---------------------------------------------------------------- the guarded connection -------------------


# ---------------------------------------------------------------- over real loopback sockets --------------


# ---------------------------------------------------------------- end to end, without the allowlist -------


@dataclass
class Ssrf:
    api: Api
    public: Server  # allowlisted by its exact port: stands for a public server
    internal: Server  # loopback on another port: stands for what must stay unreachable


@pytest.fixture(scope="module")
def ssrf(temporal: Stack, clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ssrf]:
    with serving(clips["small"].parent) as public, serving(clips["small"].parent) as internal:
        s = new_stack(
            temporal,
            tmp_path_factory.mktemp("ssrf"),
            "recast-ssrf",
            RECAST_URL_ALLOWLIST=f"127.0.0.1:{public.port}",
        )
        s.start_worker()
        port = free_port()
        s.start_api("127.0.0.1", port)
        try:
            yield Ssrf(Api(f"http://127.0.0.1:{port}"), public, internal)
        finally:
            s.stop()


def forbidden(resp: httpx.Response, field_name: str) -> str:
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "forbidden-url", error
    assert error["message"].startswith(f"{field_name}: "), error
    return str(error["message"])


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.1:{internal}/small.mp4", "loopback"),
        ("http://localhost:{internal}/small.mp4", "loopback"),
        ("http://[::1]:{internal}/small.mp4", "loopback"),
        ("http://[::ffff:127.0.0.1]:{internal}/small.mp4", "loopback"),
        ("http://2130706433:{internal}/small.mp4", "loopback"),
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://10.0.0.1/clip.mp4", "private"),
        ("https://192.168.1.1/clip.mp4", "private"),
        ("http://0.0.0.0:{internal}/small.mp4", "unspecified"),
    ],
)
def test_submit_refuses_forbidden_input_and_webhook_urls(ssrf: Ssrf, target: str, reason: str) -> None:
    url = target.format(internal=ssrf.internal.port)
    message = forbidden(ssrf.api.http.post("/v1/jobs", json={"input_url": url, "outputs": MP4}), "input_url")
    assert reason in message
    hook = {"input_url": f"{ssrf.public.url}/small.mp4", "outputs": MP4, "webhook_url": url}
    assert reason in forbidden(ssrf.api.http.post("/v1/jobs", json=hook), "webhook_url")
    assert ssrf.internal.requests == []


def test_allowlisted_port_works_and_its_redirect_into_loopback_fails_the_job(ssrf: Ssrf) -> None:
    # The allowlisted server itself is reachable: the refusals above are about the target, not Recast.
    ok = ssrf.api.http.post("/v1/jobs", json={"input_url": f"{ssrf.public.url}/small.mp4", "outputs": MP4})
    assert ok.status_code == 202, ok.text
    assert ssrf.api.wait(ok.json()["id"])["status"] == "completed"

    # Its redirect to another loopback port passes the submit check (the first hop is allowed) and is
    # refused by the worker at that hop: the job fails, non-retryably, and nothing reaches the target.
    hidden = f"http://127.0.0.1:{ssrf.internal.port}/small.mp4"
    url = f"{ssrf.public.url}/redirect?to={quote(hidden, safe='')}"
    started = time.monotonic()
    resp = ssrf.api.http.post("/v1/jobs", json={"input_url": url, "outputs": MP4})
    assert resp.status_code == 202, resp.text
    job = ssrf.api.wait(resp.json()["id"], timeout=30)
    assert job["status"] == "failed", job
    assert job["error_code"] == "forbidden-url", job
    assert "redirect 1" in job["error_message"] and "loopback" in job["error_message"], job
    assert time.monotonic() - started < 15, "the refusal was retried"
    assert ssrf.internal.requests == [], "the redirect target was contacted"

    # The same through a redirect to the metadata service: refused before any connection is tried.
    meta = quote("http://169.254.169.254/latest/meta-data/", safe="")
    resp = ssrf.api.http.post(
        "/v1/jobs", json={"input_url": f"{ssrf.public.url}/redirect?to={meta}", "outputs": MP4}
    )
    job = ssrf.api.wait(resp.json()["id"], timeout=30)
    assert job["error_code"] == "forbidden-url" and "metadata" in job["error_message"], job
