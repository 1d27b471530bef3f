"""What the tests share, one module per kind: stacks and their settings (stacks), an HTTP client for a
running API (api), test media and probing (media), coloured pictures (pictures), ffmpeg processes
(processes), media for remux, verification and metrics (quality_media), a redirecting loopback server and moto's S3 server (servers), payloads for calling activities directly
(activities). Everything is re-exported here but the stand-ins that run TranscodeJob without ffmpeg
(tests.helpers.workflow, imported from there: it loads the workflow) and the loudness and captions
checks (tests.helpers.finishing, imported from there: it loads the output activities). Fixtures live in tests/conftest.py."""

from tests.helpers.activities import WEBHOOK_SECRET, delivery, make_job, place_input, request
from tests.helpers.api import TERMINAL, Api, own_api, request_models, upload_form
from tests.helpers.media import (
    decode_errors,
    ffprobe,
    frames_and_ends,
    keyed_clip,
    long_clip,
    make_clip,
    make_tone,
    make_with_ffmpeg,
    meta,
    picture_box,
    probe,
    stream,
    thumbnail_inputs,
)
from tests.helpers.metrics import Scrape, delta
from tests.helpers.pictures import COLOURS, RGB, colour_of, colour_strip, difference, tagged
from tests.helpers.processes import alive, ffmpeg_pids
from tests.helpers.quality_media import damaged, packets, stream_md5, top_level_boxes, vfr_clip, web_clip
from tests.helpers.servers import Receiver, Server, moto_s3, receiving, serving
from tests.helpers.stacks import (
    API_KEY,
    MAX_UPLOAD,
    ORG,
    OTHER_KEY,
    OTHER_ORG,
    SECRET,
    SHARED_QUEUE,
    STACK_ENV,
    activity_attempts,
    add_key,
    new_stack,
    second_api,
)

__all__ = [
    "API_KEY",
    "COLOURS",
    "MAX_UPLOAD",
    "ORG",
    "OTHER_KEY",
    "OTHER_ORG",
    "RGB",
    "SECRET",
    "SHARED_QUEUE",
    "STACK_ENV",
    "TERMINAL",
    "WEBHOOK_SECRET",
    "Api",
    "Receiver",
    "Scrape",
    "Server",
    "activity_attempts",
    "add_key",
    "alive",
    "colour_of",
    "colour_strip",
    "damaged",
    "decode_errors",
    "delivery",
    "delta",
    "difference",
    "ffmpeg_pids",
    "ffprobe",
    "frames_and_ends",
    "keyed_clip",
    "long_clip",
    "make_clip",
    "make_job",
    "make_tone",
    "make_with_ffmpeg",
    "meta",
    "moto_s3",
    "new_stack",
    "own_api",
    "packets",
    "picture_box",
    "place_input",
    "probe",
    "receiving",
    "request",
    "request_models",
    "second_api",
    "serving",
    "stream",
    "stream_md5",
    "tagged",
    "thumbnail_inputs",
    "top_level_boxes",
    "upload_form",
    "vfr_clip",
    "web_clip",
]
