"""Upload tokens without a stack: they keep working across a signing-secret rotation."""

from __future__ import annotations

import time

import pytest

from recast.infra.uploads import UploadError, UploadGrant, sign_upload, verify_upload
from tests.helpers import ORG


def test_upload_tokens_survive_a_secret_rotation() -> None:
    grant = UploadGrant(ORG, "up_" + "a" * 32, int(time.time()) + 60)
    token = sign_upload(grant, "old-secret")
    assert verify_upload(token, "new-secret", previous=("old-secret",)) == grant
    with pytest.raises(UploadError) as refused:
        verify_upload(token, "new-secret")
    assert refused.value.code == "invalid-token"
