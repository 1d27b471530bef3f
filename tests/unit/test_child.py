"""The `recast.client.child` interface without a stack: `job_params` builds a child job's parameters
from inputs and a clip, and refuses what the API would refuse."""

from __future__ import annotations

from typing import Any

import pytest

from recast.client import child
from tests.helpers import ORG


def test_job_params_joins_inputs_and_clips() -> None:
    from datetime import UTC, datetime

    from pydantic import ValidationError

    urls = ["https://media.example/a.mp4", "s3://bucket/b.mov"]
    common: dict[str, Any] = {
        "job_id": "job_child_join",
        "organization": ORG,
        "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
        "created_at": datetime.now(UTC),
    }
    params = child.job_params(inputs=urls, clip={"start": 1.0, "end": 3.5}, **common)
    assert [s.url for s in params.inputs] == urls
    assert params.source.url == urls[0]
    assert params.clip is not None and (params.clip.start, params.clip.end) == (1.0, 3.5)
    with pytest.raises(ValueError, match="exactly one"):
        child.job_params(input_url=urls[0], inputs=urls, **common)
    with pytest.raises(ValidationError, match="inputs"):
        child.job_params(inputs=["ftp://x/y.mp4"], **common)
    with pytest.raises(ValidationError):
        child.job_params(input_url=urls[0], clip={"start": 2, "end": 1}, **common)
