"""SSRF guard (recast/infra/net.py) without a stack: input and webhook URLs cannot reach loopback,
private, link-local or metadata addresses.

A stub resolver and a stub network backend stand in, so a "public" address is never really connected
to: the tests show which address a connection goes to, what Host and SNI it carries, and that DNS is
asked once. The end-to-end half is tests/e2e/test_ssrf.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.callback import CallbackActivities
from activities.deps import Deps
from activities.fetch import _get_following_redirects
from recast.devstack.stack import free_port
from recast.infra import config, net
from tests.helpers import delivery, serving

PUBLIC = "93.184.216.34"  # never connected to: the tests' network backend is a stub


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: the kernel connects to 127.0.0.1
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.10", "private"),
        ("fd12:3456::1", "unique local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("64:ff9b::7f00:1", "NAT64"),
        ("2002:7f00:1::1", "6to4"),
        ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_forbidden_addresses_are_classified(address: str, reason: str) -> None:
    why = net.classify(ipaddress.ip_address(address))
    assert why is not None and reason in why, (address, why)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", PUBLIC, "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00::1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert net.classify(ipaddress.ip_address(address)) is None


def allowed(policy: net.UrlPolicy, host: str, ip: str, port: int) -> bool:
    try:
        policy.check(host, ipaddress.ip_address(ip), port)
    except net.ForbiddenUrl:
        return False
    return True


def test_allowlist_entries() -> None:
    policy = net.UrlPolicy.parse(
        ["10.0.0.0/8", "127.0.0.1:8080", "[::1]:9000", "minio", "media.internal:9443", "fd00::/8"]
    )
    assert allowed(policy, "10.9.9.9", "10.9.9.9", 1234)
    assert allowed(policy, "storage.lan", "10.9.9.9", 80), "a CIDR allows the address whatever the name"
    assert allowed(policy, "127.0.0.1", "127.0.0.1", 8080)
    assert not allowed(policy, "127.0.0.1", "127.0.0.1", 8081), "a host:port entry allowed another port"
    assert allowed(policy, "::1", "::1", 9000) and not allowed(policy, "::1", "::1", 9001)
    assert allowed(policy, "minio", "172.18.0.5", 9000)
    assert allowed(policy, "MINIO.", "172.18.0.5", 9000), "host names are case- and trailing-dot-insensitive"
    assert not allowed(policy, "other", "172.18.0.5", 9000)
    assert allowed(policy, "media.internal", "192.168.1.5", 9443)
    assert not allowed(policy, "media.internal", "192.168.1.5", 443)
    assert not allowed(policy, "localhost", "127.0.0.1", 80)
    assert allowed(policy, "anything", "8.8.8.8", 25), "public addresses never need the allowlist"


def test_metadata_needs_an_exact_entry() -> None:
    broad = net.UrlPolicy.parse(["169.254.0.0/16", "fd00::/8", "0.0.0.0/0"])
    assert allowed(broad, "x", "169.254.1.1", 80)
    assert not allowed(broad, "x", "169.254.169.254", 80), "a broad CIDR unlocked the metadata service"
    assert not allowed(broad, "x", "fd00:ec2::254", 80)
    exact = net.UrlPolicy.parse(["169.254.169.254/32"])
    assert allowed(exact, "x", "169.254.169.254", 80)


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "127.0.0.1:0", "host:99999", "host:", "bad host!", "[::1", "[::1]x"]
)
def test_bad_allowlist_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="RECAST_URL_ALLOWLIST"):
        net.UrlPolicy.parse([entry])


def test_bad_allowlist_stops_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECAST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECAST_URL_ALLOWLIST", "127.0.0.1/32, 10.0.0.0/99")
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/99"):
        config.load()
    monkeypatch.setenv("RECAST_URL_ALLOWLIST", " 127.0.0.1/32 , minio:9000 ,")
    assert config.load().url_allowlist == ("127.0.0.1/32", "minio:9000")


def resolver_of(table: dict[str, list[str]], calls: list[str] | None = None) -> net.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def check(url: str, table: dict[str, list[str]] | None = None, allow: tuple[str, ...] = ()) -> str | None:
    resolver = resolver_of(table or {})
    try:
        asyncio.run(net.check_url(url, net.UrlPolicy.parse(allow), resolver))
    except net.ForbiddenUrl as exc:
        return str(exc)
    return None


def test_submit_check_literals_and_names() -> None:
    assert "loopback" in (check("http://127.0.0.1:8000/x") or "")
    assert "loopback" in (check("http://[::1]/x") or "")
    assert "metadata" in (check("http://169.254.169.254/latest/meta-data/") or "")
    assert "private" in (check("https://10.0.0.1/x.mp4") or "")
    message = check("http://video.example/x.mp4?token=secret", {"video.example": [PUBLIC, "192.168.0.7"]})
    assert message and "video.example (192.168.0.7)" in message and "secret" not in message
    assert check("http://video.example/x.mp4", {"video.example": [PUBLIC]}) is None
    assert check("http://unknown.example/x") is None, "a name that does not resolve yet is left to fetch time"
    assert check("s3://bucket/key.mp4") is None and check("upload://up_x") is None
    assert check("http://127.0.0.1:8000/x", allow=("127.0.0.1:8000",)) is None


def test_submit_check_real_resolver_sees_through_numeric_hosts() -> None:
    policy = net.UrlPolicy()
    for url in ("http://localhost/x", "http://2130706433/x", "http://0x7f000001/x", "http://127.1/x"):
        with pytest.raises(net.ForbiddenUrl, match="loopback"):
            asyncio.run(net.check_url(url, policy))


@dataclass
class FakeStream(httpcore.AsyncNetworkStream):
    """A connection that answers every request with `reply` and records what it was sent."""

    reply: bytes
    sent: bytearray = field(default_factory=bytearray)
    tls_names: list[str | None] = field(default_factory=list)
    answered: bool = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if self.answered:
            return b""
        self.answered = True
        return self.reply

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.sent.extend(buffer)

    async def aclose(self) -> None:
        pass

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        self.tls_names.append(server_hostname)
        raise httpcore.ConnectError("no TLS in this test")

    def get_extra_info(self, info: str) -> Any:
        return None


@dataclass
class FakeBackend(httpcore.AsyncNetworkBackend):
    """Records every (address, port) connected to; replies per address."""

    replies: dict[str, bytes]
    connects: list[tuple[str, int]] = field(default_factory=list)
    streams: list[FakeStream] = field(default_factory=list)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        stream = FakeStream(self.replies.get(host, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        self.streams.append(stream)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def test_dns_rebinding_connects_to_the_checked_address() -> None:
    """The name answers a public address first and loopback afterwards (a rebinding DNS server). The
    guard asks once, checks that answer and connects to exactly that address; it never asks again."""
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    backend = FakeBackend({})

    async def go() -> httpx.Response:
        async with net.guarded_client(net.UrlPolicy(), timeout=5, resolver=rebinding, inner=backend) as c:
            return await c.get("http://rebind.example/clip.mp4")

    resp = asyncio.run(go())
    assert resp.status_code == 200 and resp.text == "ok"
    assert calls == ["rebind.example"], "the name was resolved more than once"
    assert backend.connects == [(PUBLIC, 80)], "the connection did not go to the checked address"
    request = bytes(backend.streams[0].sent)
    assert b"\r\nHost: rebind.example\r\n" in request, request  # the name, not the address

    # The next connection gets the loopback answer, and is refused before anything connects.
    with pytest.raises(net.ForbiddenUrl, match=r"rebind\.example \(127\.0\.0\.1\).*loopback"):
        asyncio.run(go())
    assert backend.connects == [(PUBLIC, 80)]


def test_tls_keeps_the_host_name_for_sni_and_verification() -> None:
    backend = FakeBackend({})

    async def go() -> None:
        resolver = resolver_of({"media.example": [PUBLIC]})
        async with net.guarded_client(net.UrlPolicy(), timeout=5, resolver=resolver, inner=backend) as c:
            await c.get("https://media.example/clip.mp4")

    with pytest.raises(httpx.ConnectError, match="no TLS in this test"):
        asyncio.run(go())
    assert backend.connects == [(PUBLIC, 443)]
    assert backend.streams[0].tls_names == ["media.example"]


def test_any_forbidden_answer_refuses_the_name() -> None:
    backend = FakeBackend({})

    async def go() -> None:
        resolver = resolver_of({"mixed.example": [PUBLIC, "10.0.0.8"]})
        async with net.guarded_client(net.UrlPolicy(), timeout=5, resolver=resolver, inner=backend) as c:
            await c.get("http://mixed.example/")

    with pytest.raises(net.ForbiddenUrl, match=r"10\.0\.0\.8.*private"):
        asyncio.run(go())
    assert backend.connects == [], "something was connected to before every answer was checked"


def test_every_redirect_hop_is_checked() -> None:
    """A public server redirects to a name that resolves into the private network: refused at that hop,
    before anything connects to it."""
    backend = FakeBackend(
        {
            PUBLIC: b"HTTP/1.1 302 Found\r\nLocation: http://internal.example:8080/secret\r\nContent-Length: 0\r\n\r\n"
        }
    )
    resolver = resolver_of({"public.example": [PUBLIC], "internal.example": ["10.0.0.5"]})

    async def go() -> None:
        async with net.guarded_client(net.UrlPolicy(), timeout=5, resolver=resolver, inner=backend) as c:
            await _get_following_redirects(c, "http://public.example/a.mp4")

    with pytest.raises(net.ForbiddenUrl) as err:
        asyncio.run(go())
    assert "redirect 1 goes to http://internal.example:8080" in str(err.value)
    assert "10.0.0.5" in str(err.value) and "private" in str(err.value)
    assert backend.connects == [(PUBLIC, 80)]


def test_redirect_to_another_scheme_is_refused() -> None:
    backend = FakeBackend(
        {PUBLIC: b"HTTP/1.1 301 Moved\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"}
    )

    async def go() -> None:
        resolver = resolver_of({"public.example": [PUBLIC]})
        async with net.guarded_client(net.UrlPolicy(), timeout=5, resolver=resolver, inner=backend) as c:
            await _get_following_redirects(c, "http://public.example/a.mp4")

    with pytest.raises(net.ForbiddenUrl, match="file: URL"):
        asyncio.run(go())


def test_redirects_are_bounded() -> None:
    loop = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
    backend = FakeBackend({PUBLIC: loop})

    async def go() -> None:
        resolver = resolver_of({"public.example": [PUBLIC]})
        async with net.guarded_client(net.UrlPolicy(), timeout=5, resolver=resolver, inner=backend) as c:
            await _get_following_redirects(c, "http://public.example/a.mp4")

    with pytest.raises(ApplicationError, match="more than 5 times"):
        asyncio.run(go())
    assert len(backend.connects) == 6


def test_real_connection_goes_to_the_checked_address_with_the_original_host(clips: dict[str, Path]) -> None:
    """Through the real network backend: a name the stub resolver maps to loopback, allowed on one port
    only. The socket goes to 127.0.0.1, the request still says `Host: video.example:PORT`."""
    with serving(clips["small"].parent) as srv:
        policy = net.UrlPolicy.parse([f"127.0.0.1:{srv.port}"])
        resolver = resolver_of({"video.example": ["127.0.0.1"]})

        async def get(url: str) -> httpx.Response:
            async with net.guarded_client(policy, timeout=5, resolver=resolver) as client:
                return await client.get(url)

        resp = asyncio.run(get(f"http://video.example:{srv.port}/small.mp4"))
        assert resp.status_code == 200 and resp.content == clips["small"].read_bytes()
        assert srv.requests == [{"path": "/small.mp4", "host": f"video.example:{srv.port}"}]

        other = free_port()
        with pytest.raises(net.ForbiddenUrl, match=f"port {other} is a loopback address"):
            asyncio.run(get(f"http://video.example:{other}/small.mp4"))


def test_webhook_to_a_forbidden_address_is_not_retried(tmp_path: Path, clips: dict[str, Path]) -> None:
    """deliver_webhook without an allowlist: a loopback receiver is never contacted, and the failure is
    final (the workflow gives the delivery up; the job is not affected)."""
    settings = config.Settings(
        data_dir=tmp_path, scratch_dir=tmp_path / "scratch", storage_url=f"fs://{tmp_path}/s"
    )
    callbacks = CallbackActivities(Deps.from_settings(settings))
    with serving(clips["small"].parent) as srv:
        with pytest.raises(ApplicationError) as err:
            asyncio.run(
                ActivityEnvironment().run(callbacks.deliver_webhook, delivery(f"{srv.url}/hook?token=abc"))
            )
        assert err.value.type == "forbidden-url" and err.value.non_retryable
        assert "loopback" in err.value.message and "token=abc" not in err.value.message
        assert srv.requests == [], "the forbidden receiver was contacted"
