"""Untrusted request bodies and tokens without a stack: every string is length-limited, unknown fields
are refused, filenames are cleaned, Content-Disposition cannot be broken out of, and a token covers
job, output, organization and expiry."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import BaseModel

from api.services.files import content_disposition
from recast.infra import signing
from recast.infra.storage import clean_filename
from tests.helpers import request_models


def unbounded_strings(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> list[str]:
    """Every string in a JSON schema without maxLength (enums are bounded by their values)."""
    if "$ref" in schema:
        return unbounded_strings(defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    found = []
    if schema.get("type") == "string" and "maxLength" not in schema and "enum" not in schema:
        found.append(path or "(root)")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += unbounded_strings(sub, defs, path)
    for name, sub in schema.get("properties", {}).items():
        found += unbounded_strings(sub, defs, f"{path}.{name}".lstrip("."))
    if isinstance(schema.get("items"), dict):
        found += unbounded_strings(schema["items"], defs, f"{path}[]")
    if schema.get("type") == "object" and "properties" not in schema:
        values = schema.get("additionalProperties", {"type": "string"})
        if isinstance(values, dict):
            found += unbounded_strings(values, defs, f"{path}{{value}}")
        found += unbounded_strings(
            {"type": "string", **schema.get("propertyNames", {})}, defs, f"{path}{{key}}"
        )
    return found


@pytest.mark.parametrize("model", request_models(), ids=lambda m: m.__name__)
def test_every_request_string_is_length_limited(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    assert unbounded_strings(schema, schema.get("$defs", {})) == []


@pytest.mark.parametrize("model", request_models(), ids=lambda m: m.__name__)
def test_every_request_model_forbids_unknown_fields(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    for name, sub in [(model.__name__, schema), *schema.get("$defs", {}).items()]:
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{name} accepts unknown fields"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
        ("a\r\nX-Injected: 1.mp4", "aX-Injected: 1.mp4"),
        ("clip\x00.mp4", "clip.mp4"),
        ("vid\u202e4pm.exe", "vid4pm.exe"),  # a right-to-left override would disguise the extension
        ("vidéo 视频.mp4", "vidéo 视频.mp4"),
        ("..", "upload"),
        (".hidden", "hidden"),
        ("", "upload"),
    ],
)
def test_clean_filename(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_content_disposition_cannot_be_broken_out_of() -> None:
    assert content_disposition("clip-480p-h264.mp4") == 'attachment; filename="clip-480p-h264.mp4"'
    hostile = content_disposition('x"; filename="evil.exe\r\nSet-Cookie: a=b\\..\\視頻.mp4')
    assert "\r" not in hostile and "\n" not in hostile
    assert hostile.isascii()
    fallback = hostile.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "\\" not in fallback
    encoded = hostile.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "視頻.mp4"  # the last path component only


def test_token_covers_job_output_organization_and_expiry() -> None:
    grant = signing.FileGrant(
        "acme", "job_1", "out_1", "acme/jobs/job_1/outputs/out_1.mp4", "a.mp4", "video/mp4", 2**31
    )
    token = signing.sign(grant, "s")
    payload, mac = token.split(".")
    for change in (
        {"organization": "globex"},
        {"job_id": "job_2"},
        {"output_id": "out_2"},
        {"expires": 2**32},
    ):
        other = signing.sign(signing.FileGrant(**{**grant.__dict__, **change}), "s").split(".")[0]
        with pytest.raises(signing.TokenError, match="not valid"):
            signing.verify(f"{other}.{mac}", "s", previous=["p1", "p2"])
    assert signing.verify(signing.sign(grant, "p2"), "s", previous=["p1", "p2"]) == grant
    with pytest.raises(signing.TokenError, match="not valid"):
        signing.verify(signing.sign(grant, "p3"), "s", previous=["p1", "p2"])
    with pytest.raises(signing.TokenError, match="not valid"):
        signing.verify(f"{payload}.{mac[:-1]}é", "s")  # non-ASCII: refused, not a TypeError (500)
