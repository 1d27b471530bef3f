"""TLS in front of the plaintext Temporal dev server (which has no TLS flags): certificates made here
with `cryptography` (a CA, a server certificate for 127.0.0.1/localhost, a client certificate), and a
TLS-terminating proxy that speaks ALPN h2 to the client and forwards the raw bytes to the dev server.
With `require_client_cert` the proxy refuses a client without a certificate signed by the CA (mTLS),
as Temporal Cloud does for mTLS namespaces."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting it alone must fail


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, cn: str, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def make_certs(folder: Path) -> Certs:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = _ca("Recast test CA")
    server_key, server = _leaf(ca_key, ca, "localhost", server=True)
    client_key, client = _leaf(ca_key, ca, "recast-worker", server=False)
    _, other = _ca("Some other CA")
    pem = serialization.Encoding.PEM
    certs = Certs(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
    )
    certs.ca.write_bytes(ca.public_bytes(pem))
    certs.server_cert.write_bytes(server.public_bytes(pem))
    _write_key(certs.server_key, server_key)
    certs.client_cert.write_bytes(client.public_bytes(pem))
    _write_key(certs.client_key, client_key)
    certs.other_ca.write_bytes(other.public_bytes(pem))
    return certs


class _TlsSide:
    """The client's side of one proxied connection: TLS done by hand over memory BIOs, so that a failed
    handshake still sends its alert (asyncio's own TLS closes without it, and the client would only see
    the connection dropped, not a refused certificate as from a real server)."""

    def __init__(self, ctx: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.reader, self.writer = reader, writer

    async def flush(self) -> None:
        if data := self.outgoing.read():
            self.writer.write(data)
            await self.writer.drain()

    async def handshake(self) -> bool:
        while True:
            try:
                self.tls.do_handshake()
                await self.flush()
                return True
            except ssl.SSLWantReadError:
                await self.flush()
                data = await self.reader.read(65536)
                if not data:
                    return False
                self.incoming.write(data)
            except ssl.SSLError:
                await self.flush()  # the alert, e.g. "certificate required"
                return False

    async def to_upstream(self, up: asyncio.StreamWriter) -> None:
        while data := await self.reader.read(65536):
            self.incoming.write(data)
            while True:
                try:
                    plain = self.tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                if not plain:
                    return
                up.write(plain)
            await up.drain()
            await self.flush()  # e.g. key updates

    async def from_upstream(self, up: asyncio.StreamReader) -> None:
        while data := await up.read(65536):
            self.tls.write(data)
            await self.flush()


@contextlib.contextmanager
def tls_proxy(upstream: str, certs: Certs, require_client_cert: bool = False) -> Iterator[str]:
    """A TLS-terminating proxy to `upstream` (`host:port`, plaintext) on a free loopback port, run on a
    thread of its own (the worker and API processes connect to it too); yields its `host:port`."""
    up_host, _, up_port = upstream.rpartition(":")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.server_cert, certs.server_key)
    ctx.set_alpn_protocols(["h2"])  # gRPC clients insist on HTTP/2 being agreed
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(certs.ca)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    address: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        side = _TlsSide(ctx, reader, writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if not await side.handshake():
                return
            up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
            # Either direction ending ends the connection.
            _, pending = await asyncio.wait(
                [asyncio.ensure_future(side.to_upstream(up_writer)),
                 asyncio.ensure_future(side.from_upstream(up_reader))],
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
            for task in pending:
                task.cancel()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    async def serve() -> asyncio.Server:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        address.append(f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(serve())
        started.set()
        loop.run_forever()
        server.close()
        # Open connections end with the loop: cancel their tasks so nothing is left pending.
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    thread = threading.Thread(target=run, daemon=True, name="tls-proxy")
    thread.start()
    started.wait(10)
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
