"""Download tokens: signed, expiring, bound to one object."""

from __future__ import annotations

import time

import pytest

from recast.infra import signing

GRANT = signing.FileGrant(
    "acme",
    "job_1",
    "out_1",
    "acme/jobs/job_1/outputs/out_1.mp4",
    "a.mp4",
    "video/mp4",
    int(time.time()) + 86400,
)


def test_round_trip() -> None:
    assert signing.verify(signing.sign(GRANT, "s3cret"), "s3cret") == GRANT


def test_other_secret_or_edited_payload_is_refused() -> None:
    token = signing.sign(GRANT, "s3cret")
    with pytest.raises(signing.TokenError) as err:
        signing.verify(token, "other")
    assert err.value.code == "invalid-token"
    other = signing.sign(signing.FileGrant(**{**GRANT.__dict__, "organization": "globex"}), "x")
    with pytest.raises(signing.TokenError):
        signing.verify(other.split(".")[0] + "." + token.split(".")[1], "s3cret")


def test_expiry() -> None:
    token = signing.sign(GRANT, "s3cret")
    with pytest.raises(signing.TokenError) as err:
        signing.verify(token, "s3cret", now=GRANT.expires + 1)
    assert err.value.code == "token-expired"
