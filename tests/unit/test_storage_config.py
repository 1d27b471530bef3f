"""Storage configuration: which OpenDAL operator each RECAST_STORAGE_URL builds, with which options.

GCS has no end-to-end test: the emulators on PyPI do not take OpenDAL's writes (gcp-storage-emulator
and fake-gcs-server both lack the XML multipart upload OpenDAL uses above 5 MiB, and OpenDAL exchanges
a service-account credential for a token at Google's own address). What can be checked offline is
checked here: the options, and pre-signed URLs — signed locally with the service account's key — whose
RSA signature is verified against that key's public half.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from recast.infra.config import Settings
from recast.infra.storage import ObjectUrl, Storage, operator_options, parse_object_url

EMAIL = "recast@example-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def service_account() -> tuple[str, rsa.RSAPublicKey]:
    """A service-account JSON (base64) with a fresh RSA key, and that key's public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": "example-project",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return base64.b64encode(json.dumps(account).encode()).decode(), key.public_key()


def test_s3_options_from_settings() -> None:
    settings = Settings(
        s3_endpoint="http://minio:9000",
        s3_region="eu-west-1",
        s3_access_key_id="ak",
        s3_secret_access_key="sk",
    )
    opts = operator_options("s3", "media", "/tenants/", settings)
    assert opts == {
        "bucket": "media",
        "root": "/tenants",
        "region": "eu-west-1",
        "endpoint": "http://minio:9000",
        "access_key_id": "ak",
        "secret_access_key": "sk",
        # Explicit keys only: no ~/.aws, no AWS_* variables, no instance metadata.
        "disable_config_load": "true",
        "disable_ec2_metadata": "true",
    }
    # Without keys, the provider's own discovery (an IAM role, AWS_* variables) stays on.
    assert operator_options("s3", "media", "", Settings()) == {
        "bucket": "media",
        "root": "/",
        "region": "us-east-1",
    }
    storage = Storage("s3://media/tenants", settings)
    assert (storage.scheme, storage.bucket, storage.prefix, storage.presigns) == (
        "s3",
        "media",
        "tenants",
        True,
    )
    assert storage.local_path("a") is None


def test_s3_public_endpoint_is_what_urls_are_signed_for() -> None:
    settings = Settings(
        s3_endpoint="http://minio:9000",
        s3_public_endpoint="http://localhost:9000",
        s3_access_key_id="ak",
        s3_secret_access_key="sk",
    )
    url = asyncio.run(Storage("s3://media/p", settings).download_url("acme/a.mp4", "a.mp4", "video/mp4", 60))
    assert url and url.startswith("http://localhost:9000/media/p/acme/a.mp4?")


def test_gcs_options_and_a_verifiable_presigned_url(
    service_account: tuple[str, rsa.RSAPublicKey], tmp_path: Path
) -> None:
    credential, public_key = service_account
    settings = Settings(gcs_endpoint="http://127.0.0.1:4443", gcs_credential=credential)
    opts = operator_options("gs", "media", "tenants", settings)
    assert opts == {
        "bucket": "media",
        "root": "/tenants",
        "endpoint": "http://127.0.0.1:4443",
        "credential": credential,
        "disable_config_load": "true",
        "disable_vm_metadata": "true",
    }
    # A path to the JSON works too.
    path = tmp_path / "sa.json"
    path.write_bytes(base64.b64decode(credential))
    assert operator_options("gs", "media", "", Settings(gcs_credential=str(path)))["credential_path"] == str(
        path
    )
    with pytest.raises(ValueError, match="RECAST_GCS_CREDENTIAL"):
        operator_options("gs", "media", "", Settings(gcs_credential="/no/such/file.json"))
    assert operator_options("gs", "b", "", Settings(gcs_token="t"))["token"] == "t"

    storage = Storage("gs://media/tenants", settings)
    url = asyncio.run(storage.download_url("acme/out.mp4", "clip-480p.mp4", "video/mp4", 120))
    assert url and url.startswith("http://127.0.0.1:4443/media/tenants/acme/out.mp4?")
    fields = dict(parse_qsl(urlsplit(url).query))
    assert fields["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert fields["X-Goog-Expires"] == "120"
    assert fields["X-Goog-Credential"].startswith(EMAIL + "/")
    assert fields["response-content-disposition"] == 'attachment; filename="clip-480p.mp4"'
    signed_at = datetime.strptime(fields["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 5

    # Verify the V4 signature as GCS does: RSA-SHA256 over the canonical request's digest.
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(params)
        if k != "X-Goog-Signature"
    )
    canonical = "\n".join(["GET", parts.path, query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"])
    scope = fields["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        ["GOOG4-RSA-SHA256", fields["X-Goog-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    public_key.verify(
        bytes.fromhex(fields["X-Goog-Signature"]), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
    )

    put_url, method, headers = asyncio.run(
        storage.upload_request("acme/uploads/up_x/data/a.mp4", 60, "video/mp4")
    )
    assert method == "PUT" and "X-Goog-Signature=" in put_url and headers["Content-Type"] == "video/mp4"


def test_local_and_unknown_backends(tmp_path: Path) -> None:
    fs = Storage(f"fs://{tmp_path}/store")
    assert fs.scheme == "fs" and not fs.presigns and fs.local_path("a/b") == (tmp_path / "store" / "a/b")
    assert not Storage("memory://").presigns
    with pytest.raises(ValueError, match="supported: fs, memory, s3, gs"):
        Storage("azblob://container/x")
    with pytest.raises(ValueError, match="names no bucket"):
        Storage("s3:///prefix")


def test_object_urls_and_the_organization_boundary() -> None:
    assert parse_object_url("s3://bucket-1/a/b.mp4") == ObjectUrl("s3", "bucket-1", "a/b.mp4")
    assert parse_object_url("gs://my.bucket/x.mov") == ObjectUrl("gs", "my.bucket", "x.mov")
    for bad in (
        "s3://bucket",
        "s3://bucket/",
        "s3://B!/x",
        "s3://bucket/a/../b",
        "s3://bucket/a//b",
        "s3://bucket/a?x=1",
    ):
        with pytest.raises(ValueError):
            parse_object_url(bad)
    storage = Storage("s3://media/tenants", Settings(s3_access_key_id="a", s3_secret_access_key="b"))
    assert storage.foreign_object(parse_object_url("s3://media/tenants/globex/jobs/j/input/a.mp4"), "acme")
    assert storage.foreign_object(parse_object_url("s3://media/other/acme/a.mp4"), "acme")
    assert not storage.foreign_object(
        parse_object_url("s3://media/tenants/acme/uploads/u/data/a.mp4"), "acme"
    )
    assert not storage.foreign_object(parse_object_url("s3://customer-bucket/globex/a.mp4"), "acme")
    assert not storage.foreign_object(parse_object_url("gs://media/tenants/globex/a.mp4"), "acme")
