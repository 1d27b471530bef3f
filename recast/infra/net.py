"""Outbound HTTP to URLs a client gave us (`input_url`, `webhook_url`), guarded against SSRF.

A client must not be able to make Recast reach what only Recast can reach: loopback services, the
private network, link-local and cloud metadata endpoints (169.254.169.254 hands out credentials).
So every outbound connection goes through `GuardedBackend`, an httpcore network backend that

1. resolves the host name once,
2. checks every resolved address against the forbidden ranges below (and `RECAST_URL_ALLOWLIST`),
3. opens the TCP connection to one of the addresses it checked — never resolving the name again.

Step 3 defeats DNS rebinding (a name that answers a public address to the check and 127.0.0.1 to
the connection): there is no second lookup to win. Everything above the socket is untouched:
httpcore still sends `Host: <the URL's host>`, and for https it starts TLS on the checked socket
with SNI and certificate verification for the URL's host name, not the address.

The API also checks at submit time (`check_url`), for an early 400 `forbidden-url`, but that check
can be fooled by DNS; the connection-time check is the one that holds. Redirects are followed by the
caller one hop at a time, and each hop's connection goes through the same backend.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) → the addresses to try, as strings. Injectable so tests can play a hostile DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]

SUBMIT_DNS_TIMEOUT_S = 2.0


class ForbiddenUrl(Exception):
    """The URL's target is an address Recast must not connect to. The message names host and address,
    never the URL's path or query (which may carry a token)."""


# Cloud metadata services: named in the refusal, and never unlocked by a broad allowlist CIDR.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
    )
)


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in pairs)


FORBIDDEN_V4 = _nets(
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("10.0.0.0/8", "a private (RFC 1918) address"),
    ("100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private (RFC 1918) address"),
    ("192.0.0.0/24", "a reserved (IETF protocol assignments) address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved (6to4 relay) address"),
    ("192.168.0.0/16", "a private (RFC 1918) address"),
    ("198.18.0.0/15", "a reserved (benchmarking) address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),  # includes 255.255.255.255
)
# IPv6 is an allowlist of its own: only global unicast (2000::/3) is public, minus these.
GLOBAL_V6 = ipaddress.ip_network("2000::/3")
FORBIDDEN_V6_GLOBAL = _nets(
    ("2001::/23", "a reserved (IETF protocol assignments, Teredo) address"),
    ("2001:db8::/32", "a documentation address"),
    ("2002::/16", "a 6to4 address (it embeds an IPv4 address)"),
    ("3fff::/20", "a documentation address"),
)
NON_GLOBAL_V6 = _nets(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b::/96", "a NAT64 address (it embeds an IPv4 address)"),
    ("64:ff9b:1::/48", "a NAT64 address (it embeds an IPv4 address)"),
    ("fc00::/7", "a unique local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
)


def classify(ip: IPAddress) -> str | None:
    """Why an address is forbidden ("a loopback address", …), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv4Address):
        return next((why for net, why in FORBIDDEN_V4 if ip in net), None)
    if ip in GLOBAL_V6:
        return next((why for net, why in FORBIDDEN_V6_GLOBAL if ip in net), None)
    return next((why for net, why in NON_GLOBAL_V6 if ip in net), "a reserved address")


def parse_ip(text: str) -> IPAddress | None:
    """An IP literal (an IPv6 zone such as `%eth0` dropped), or None for a host name."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


# ---------------------------------------------------------------- the allowlist ----------------------------


@dataclass(frozen=True)
class AllowEntry:
    """One `RECAST_URL_ALLOWLIST` entry: a network or a host name, optionally on one port only."""

    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def matches(self, host: str, ip: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        assert self.network is not None
        if ip in METADATA_ADDRESSES:
            # Only an entry naming the metadata address itself unlocks it, never e.g. 169.254.0.0/16.
            return self.network.num_addresses == 1 and ip in self.network
        return ip in self.network


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_entry(text: str) -> AllowEntry:
    """`10.0.0.0/8`, `127.0.0.1`, `127.0.0.1:8080`, `[::1]:8080`, `::1/128`, `minio`, `minio:9000`."""
    raw = text.strip()
    target, port_text = raw, ""
    if raw.startswith("["):
        inner, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"RECAST_URL_ALLOWLIST entry {text!r}: expected [IPv6] or [IPv6]:port")
        target, port_text = inner, rest[1:]
    elif raw.count(":") == 1:  # host:port or a.b.c.d/n:port (bare IPv6 has two colons or more)
        target, _, port_text = raw.partition(":")
    port = None
    if port_text or raw.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"RECAST_URL_ALLOWLIST entry {text!r}: the port must be 1 to 65535")
        port = int(port_text)
    if "/" in target or parse_ip(target) is not None:
        try:
            return AllowEntry(network=ipaddress.ip_network(target, strict=False), port=port)
        except ValueError as exc:
            raise ValueError(f"RECAST_URL_ALLOWLIST entry {text!r}: {exc}") from exc
    host = _norm_host(target)
    if not host or not all(c.isalnum() or c in ".-_" for c in host):
        raise ValueError(f"RECAST_URL_ALLOWLIST entry {text!r} is neither a CIDR, an IP nor a host name")
    return AllowEntry(host=host, port=port)


@dataclass(frozen=True)
class UrlPolicy:
    """Which targets outbound requests may reach: public addresses, plus whatever the allowlist adds."""

    allow: tuple[AllowEntry, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> UrlPolicy:
        return cls(tuple(parse_entry(e) for e in entries if e.strip()))

    def check(self, host: str, ip: IPAddress, port: int) -> None:
        """Raise ForbiddenUrl unless `host` (resolved to `ip`) on `port` may be connected to."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # matched against the allowlist as the IPv4 address it is
        why = classify(ip)
        if why is None:
            return
        name = _norm_host(host)
        if any(entry.matches(name, ip, port) for entry in self.allow):
            return
        shown = f"{name} ({ip})" if parse_ip(name) is None else str(ip)
        raise ForbiddenUrl(
            f"{shown} port {port} is {why}; Recast does not connect there "
            "(an operator can allow it with RECAST_URL_ALLOWLIST)"
        )


@lru_cache(maxsize=8)
def policy_for(entries: tuple[str, ...]) -> UrlPolicy:
    """The policy for `Settings.url_allowlist`, parsed once per process."""
    return UrlPolicy.parse(entries)


# ---------------------------------------------------------------- resolving and checking ------------------


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`, in its order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def check_url(
    url: str,
    policy: UrlPolicy,
    resolver: Resolver = system_resolver,
    dns_timeout_s: float = SUBMIT_DNS_TIMEOUT_S,
) -> None:
    """The submit-time check of an http(s) URL, for early feedback: raise ForbiddenUrl when its host is a
    forbidden IP literal or resolves to one. A name that does not resolve (now) passes: the
    authoritative check happens when the connection is made. Other schemes are not network targets."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return
    try:
        host, port = parts.hostname, parts.port or default_port(scheme)
    except ValueError:
        return  # a malformed port: the fetch fails on it, with its own message
    if not host:
        return
    literal = parse_ip(host)
    if literal is not None:
        policy.check(host, literal, port)
        return
    try:
        addresses = await asyncio.wait_for(resolver(host, port), dns_timeout_s)
    except (OSError, TimeoutError, UnicodeError):
        return
    for address in addresses:
        ip = parse_ip(address)
        if ip is not None:
            policy.check(host, ip, port)


# ---------------------------------------------------------------- the guarded connection ------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to checked addresses (see the module's doc)."""

    def __init__(
        self,
        policy: UrlPolicy,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = parse_ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await asyncio.wait_for(self.resolver(host, port), timeout)
            except (OSError, TimeoutError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"{host} resolves to no address")
        checked: list[str] = []
        for address in addresses:
            ip = parse_ip(address)
            if ip is None:
                raise httpcore.ConnectError(f"{host} resolved to {address!r}, not an address")
            # Every address is checked before any is tried: a name answering one public and one
            # private address is refused, not tried until the private one happens to connect.
            self.policy.check(host, ip, port)
            checked.append(address)
        error: Exception | None = None
        for address in checked:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenUrl("connections to Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request mapping, error mapping, pooling) on top of `GuardedBackend`."""

    def __init__(
        self,
        policy: UrlPolicy,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        # httpx has no parameter for httpcore's network backend, so the pool it built is replaced by
        # an identical one that connects through the guard (httpx is pinned; tests/e2e/test_ssrf.py
        # fails if this stops taking effect). No proxy: a proxy would be the only address checked.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(policy, resolver, inner),
        )


def guarded_client(
    policy: UrlPolicy,
    *,
    timeout: float,
    resolver: Resolver = system_resolver,
    inner: httpcore.AsyncNetworkBackend | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through `GuardedBackend`. It does not follow
    redirects: a caller that wants them follows `response.next_request` itself (see `activities/fetch.py`)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, resolver, inner, ssl_context),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


def describe_target(url: str | httpx.URL) -> str:
    """`scheme://host[:port]` of a URL, for messages: never its path, query or credentials."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
