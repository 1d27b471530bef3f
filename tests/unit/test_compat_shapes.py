"""The drop-in APIs' translations without a stack: Transcodely's requests (proto3 defaults, variants,
thumbnails, refusals) and errors, Convertly's events and callback signature, both views of a Job."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from api.compat import transcodely_shapes as shapes
from api.compat.convertly import format_output, translate_job
from api.errors import ApiError
from recast.core import convertly
from recast.core.formats import OutputType
from recast.core.job import Job, JobStatus, Output, OutputStatus
from recast.core.webhooks import WebhookDelivery, request_parts, skipped

T0 = datetime(2025, 2, 28, 10, 0, 0, 123456, tzinfo=UTC)


def job(status: JobStatus, compat: dict[str, str], **fields: object) -> Job:
    out = Output(
        id="out_1", type=OutputType.mp3, status=OutputStatus.completed, file_size_bytes=10, filename="a.mp3"
    )
    return Job.model_validate(
        {
            "id": "job_1",
            "organization": "acme",
            "status": status,
            "input": {"url": "https://x/a.mp4", "size": 100},
            "outputs": [out.model_dump()],
            "created_at": T0,
            "updated_at": T0,
            "compat": compat,
            **fields,
        }
    )


def test_proto3_defaults_are_absent_and_variants_split() -> None:
    """What Transcodely's SDK sends (every field, defaults included) is read as the fields that are set;
    an mp4 with two variants is two outputs, an hls output one ladder."""
    body = {
        "input_url": "https://cdn/x.mp4",
        "input_origin_id": "",
        "input_video_id": "",
        "app_id": "",
        "output_origin_id": "ori_1",
        "priority": "unspecified",
        "metadata": {},
        "delayed_start": False,
        "thumbnails": [],
        "idempotency_key": "k1",
        "outputs": [
            {"type": "mp4", "preset": "", "audio": [], "video": [
                {"codec": "h264", "resolution": "720p", "quality": "unspecified", "framerate": 0, "width": 0},
                {"codec": "h265", "resolution": "unspecified", "width": 640, "bitrate": 0},
            ]},
            {"type": "hls", "video": [{"codec": "h264", "resolution": "480p"}, {"codec": "h264", "resolution": "720p"}],
             "segments": {"duration": 4, "gop_size": 0}},
        ],
    }  # fmt: skip
    native, compat = shapes.create_request(body, header_key="random-header")
    assert native == {
        "input_url": "https://cdn/x.mp4",
        "outputs": [
            {"type": "mp4", "video": [{"codec": "h264", "resolution": "720p"}]},
            {"type": "mp4", "video": [{"codec": "h265", "width": 640}]},
            {"type": "hls", "segments": {"duration": 4}, "video": [
                {"codec": "h264", "resolution": "480p"}, {"codec": "h264", "resolution": "720p"}]},
        ],
        "idempotency_key": "k1",  # the body's key, not the SDK's random header
    }  # fmt: skip
    assert compat == {"api": "transcodely", "output_origin_id": "ori_1"}


def test_thumbnails_and_clip() -> None:
    body = {
        "input_url": "https://cdn/x.mp4",
        "output_origin_id": "ori_1",
        "outputs": [{"type": "webm", "video": [{"codec": "vp9"}]}],
        "thumbnails": [
            {"mode": "single", "timestamp": 2.5, "format": "jpeg", "width": 320},
            {"mode": "sprite", "interval_seconds": 1, "sprite_columns": 5, "format": "webp", "quality": 70},
        ],
        "clip": {"start_seconds": 1, "end_seconds": 0},
    }
    native, compat = shapes.create_request(body, None)
    assert native["thumbnails"] == [
        {"format": "jpg", "width": 320, "times": [2.5]},
        {"format": "webp", "quality": 70, "interval": 1, "sprite": {"columns": 5}},
    ]
    assert native["clip"] == {"start": 1}
    assert json.loads(compat["thumbnails"]) == body["thumbnails"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_origin_id": "ori_in"}, "input_origin_id"),
        ({"output_origin_id": ""}, "output_origin_id"),
        ({"outputs": []}, "outputs"),
        ({"outputs": [{"type": "adaptive", "video": [{"codec": "h264"}]}]}, "outputs[0].type"),
        ({"outputs": [{"type": "mp4", "video": [{"codec": "h264", "h264": {"crf": 20}}]}]}, "outputs[0].video[0].h264"),
        ({"outputs": [{"type": "hls", "video": [{"codec": "h264"}], "drm": {"systems": ["widevine"]}}]}, "outputs[0].drm"),
        ({"thumbnails": [{"mode": "animated"}]}, "thumbnails[0].mode"),
        ({"outputs": [{"type": [[], True], "video": [{"codec": "h264"}]}]}, "outputs[0].type"),  # fuzz: a list
    ],
)  # fmt: skip
def test_unsupported_fields_are_named(change: dict[str, object], field: str) -> None:
    body = {
        "input_url": "https://cdn/x.mp4",
        "output_origin_id": "ori_1",
        "outputs": [{"type": "mp4", "video": [{"codec": "h264"}]}],
    }
    with pytest.raises(ApiError) as err:
        shapes.create_request({**body, **change}, None)
    assert err.value.status == 400 and err.value.message.startswith(field + ":")
    status, error = shapes.connect_error(err.value.status, err.value.code, err.value.message)
    assert status == 400 and error["code"] == "invalid_argument"
    assert error["details"][0]["value"]["field_violations"][0]["field"] == field


@pytest.mark.parametrize(
    ("native", "connect", "http"),
    [(401, "unauthenticated", 401), (403, "permission_denied", 403), (404, "not_found", 404),
     (409, "failed_precondition", 400), (429, "resource_exhausted", 429), (503, "unavailable", 503),
     (500, "internal", 500)],
)  # fmt: skip
def test_connect_error_codes(native: int, connect: str, http: int) -> None:
    status, body = shapes.connect_error(native, "x", "message")
    assert (status, body["code"], body["message"]) == (http, connect, "message")


def test_job_object_before_and_after_probing() -> None:
    pending = shapes.job_view(job(JobStatus.pending, {"output_origin_id": "ori_1"}), "fs:///var/storage")
    assert (
        pending["outputs"] == []
        and "error_code" not in pending
        and pending["created_at"] == "2025-02-28T10:00:00Z"
    )
    assert pending["output_origin"] == {
        "id": "ori_1", "name": "Recast storage", "provider": "transcodely", "path": "", "bucket": ""
    }  # fmt: skip
    done = shapes.job_view(
        job(JobStatus.completed, {}, probed_at=T0, completed_at=T0),
        "s3://media-bucket/prefix",
        {"out_1": "https://dl"},
    )
    assert (
        done["error_code"] == ""
        and done["confirmed_at"] is None
        and done["output_origin"]["bucket"] == "media-bucket"
    )
    assert done["outputs"][0]["output_url"] == "https://dl" and done["outputs"][0]["status"] == "completed"


def test_convertly_job_view_and_events() -> None:
    tool = job(JobStatus.partial, {"api": "convertly", "tool": "extract-audio"})
    view = convertly.job_view(tool)
    assert view["status"] == "completed" and view["tool"] == "extract-audio" and "jobType" not in view
    assert convertly.event_type(tool, "job.status_changed") == "media.tool.completed"
    assert convertly.event_type(tool, "output.completed") is None
    conversion = job(JobStatus.probing, {"api": "convertly", "job_type": "convert"})
    assert convertly.event_type(conversion, "job.status_changed") == "conversion.started"
    assert convertly.event_type(conversion, "output.completed") == "conversion.progress"
    processing = job(JobStatus.processing, {"api": "convertly"})
    assert skipped(
        WebhookDelivery(url="https://r", event="job.status_changed", delivery_id="dlv_1", job=processing)
    )
    assert not skipped(
        WebhookDelivery(
            url="https://r",
            event="job.status_changed",
            delivery_id="dlv_1",
            job=job(JobStatus.processing, {}),
        )
    )


def test_convertly_callback_is_signed_as_documented() -> None:
    failed = job(JobStatus.failed, {"api": "convertly"}, error_message="no input")
    delivery = WebhookDelivery(
        url="https://r", secret="s3cret", event="job.status_changed", delivery_id="dlv_ab", job=failed
    )
    headers, body = request_parts(delivery, "1700000000", ["whsec_" + "A" * 32])
    mac = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers["Convertly-Signature"] == f"t=1700000000,v1={mac}"
    assert headers["Convertly-Event"] == "conversion.failed" and "Recast-Signature" not in headers
    envelope = json.loads(body)
    assert envelope["id"] == "evt_ab" and envelope["created"] == 1700000000
    assert envelope["data"]["status"] == "failed" and envelope["data"]["errorMessage"] == "no input"


def test_convertly_formats() -> None:
    assert format_output("webp", 82) == {"type": "webp", "image": {"quality": 82}}
    assert format_output("png", 82) == {"type": "png", "image": {}}
    assert format_output("ogg") == {"type": "opus"}
    assert translate_job({"formats": '["mp4", "mp3"]', "callbackUrl": "https://r", "metadata": {}}) == {
        "outputs": [{"type": "mp4", "video": {"codec": "h264"}}, {"type": "mp3"}],
        "webhook_url": "https://r",
    }
    with pytest.raises(ApiError):
        translate_job({"formats": '["webp"]', "resizes": '["email"]'})
