"""A minimal HTTP/1.1 GET client on asyncio streams, for the poll benchmarks.

Why our own: on a 2-core machine httpx costs ~3.5 ms of client CPU per request, so with 32 pollers
the benchmark's own process, not the API, is what gets measured (its event loop lags, and every
reply it is late to read counts as server latency). This does one keep-alive connection, GETs with a
Content-Length reply, and nothing else.
"""

from __future__ import annotations

import asyncio


class RawConnection:
    """One keep-alive HTTP/1.1 connection to `base_url` (http://host:port), sending `Bearer key`."""

    def __init__(self, base_url: str, key: str) -> None:
        self.host, _, port = base_url.removeprefix("http://").partition(":")
        self.port = int(port)
        self.key = key
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def connect(self) -> None:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)

    async def request(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET `path`: status, headers (lower-case names) and body."""
        await self.connect()
        assert self.streams is not None
        reader, writer = self.streams
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for header in lines[1:]:
            name, _, value = header.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split(" ", 2)[1]), headers, body

    async def get(self, path: str) -> int:
        return (await self.request(path))[0]

    def close(self) -> None:
        if self.streams:
            self.streams[1].close()
