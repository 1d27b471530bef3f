"""Split-and-stitch encoding through the API: chunked outputs are whole (exact frame count, audio to the
end, clean decode), say how many chunks they were made of, leave no chunk behind; what chunking does
not do yet is a 400."""

from __future__ import annotations

from pathlib import Path

import pytest

from recast.devstack.stack import Stack
from tests.helpers import Api, activity_attempts, decode_errors, frames_and_ends, make_clip, upload_form


@pytest.fixture(scope="module")
def four_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("chunked") / "four.mp4", seconds=4, size="320x180", rate=25)


def test_chunked_outputs_are_whole_and_report_their_chunks(
    api: Api, four_seconds: Path, temporal: Stack, stack_storage: Path, tmp_path: Path
) -> None:
    outputs = [
        {"type": "mp4", "video": {"codec": "h264"}},
        {"type": "webm", "video": {"codec": "vp9"}},
        {"type": "mkv", "video": {"codec": "av1", "quality": "economy"}},
        {"type": "mov", "video": {"codec": "h265"}},
    ]
    resp = upload_form(api, four_seconds, outputs, chunking="on", chunk_duration="1")
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"], timeout=120)
    assert done["status"] == "completed", done
    for index, name in enumerate(("o.mp4", "o.webm", "o.mkv", "o.mov")):
        out = done["outputs"][index]
        assert out["chunks"] == 4, out
        assert out["stitch_duration_ms"] is not None and out["stitch_duration_ms"] >= 0
        api.download(done["id"], out["id"], tmp_path / name)
        frames, video_end, audio_end = frames_and_ends(tmp_path / name)
        assert frames == 100  # 4 s at 25 fps: no frame lost or doubled at the seams
        assert abs(video_end - 4.0) <= 1 / 25 + 0.002
        assert abs(audio_end - video_end) <= 0.040
        assert decode_errors(tmp_path / name) == ""
    assert done["execution"]["stitch_duration_ms"] is not None
    # Sixteen chunks (four per output), each encoded once, and none left in storage.
    assert activity_attempts(temporal, done["id"], "encode_chunk") == [1] * 16
    assert not list((stack_storage / "acme" / "jobs" / done["id"]).glob("chunks/*/*"))


def test_auto_encodes_a_short_input_whole(api: Api, four_seconds: Path, temporal: Stack) -> None:
    # The test stack's single worker is one chunk slot, and the input is short: one encode.
    resp = upload_form(api, four_seconds, [{"type": "mp4", "video": {"codec": "h264"}}])
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed", done
    assert done["outputs"][0]["chunks"] == 1
    assert done["outputs"][0]["stitch_duration_ms"] is None
    # `auto` does not even plan an output shorter than RECAST_CHUNKING_MIN_DURATION (30 s).
    assert activity_attempts(temporal, done["id"], "plan_chunks") == []
    assert activity_attempts(temporal, done["id"], "encode_chunk") == []


@pytest.mark.parametrize(
    ("fields", "outputs", "message"),
    [
        ({"chunking": "on"}, [{"type": "hls", "video": [{"codec": "h264"}]}], "ladders"),
        ({"chunk_duration": "0.5"}, [{"type": "mp4", "video": {"codec": "h264"}}], "chunk_duration"),
        ({"chunking": "sometimes"}, [{"type": "mp4", "video": {"codec": "h264"}}], "chunking"),
    ],
)
def test_what_chunking_does_not_do_is_a_400(
    api: Api, four_seconds: Path, fields: dict[str, str], outputs: list[dict[str, object]], message: str
) -> None:
    resp = upload_form(api, four_seconds, outputs, **fields)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "invalid-input"
    assert message in resp.json()["error"]["message"]


def test_joined_inputs_with_chunking_on_are_a_400(api: Api) -> None:
    body = {
        "inputs": ["http://127.0.0.1:9/a.mp4", "http://127.0.0.1:9/b.mp4"],
        "chunking": "on",
        "outputs": [{"type": "mp4", "video": {"codec": "h264"}}],
    }
    resp = api.http.post("/v1/jobs", json=body)
    assert resp.status_code == 400, resp.text
    assert "joined inputs" in resp.json()["error"]["message"]


def test_a_chunked_clip_has_the_frames_of_a_whole_encoded_one(
    api: Api, four_seconds: Path, tmp_path: Path
) -> None:
    outputs = [{"type": "mkv", "video": {"codec": "h264"}}]
    clip = '{"start": 0.5, "end": 3.3}'
    results = {}
    for chunking in ("on", "off"):
        resp = upload_form(api, four_seconds, outputs, chunking=chunking, chunk_duration="1", clip=clip)
        assert resp.status_code == 202, resp.text
        done = api.wait(resp.json()["id"], timeout=120)
        assert done["status"] == "completed", done
        api.download(done["id"], done["outputs"][0]["id"], tmp_path / f"{chunking}.mkv")
        results[chunking] = (done["outputs"][0]["chunks"], frames_and_ends(tmp_path / f"{chunking}.mkv"))
    (chunks, (frames, video_end, audio_end)), (whole_chunks, (whole_frames, _, _)) = (
        results["on"],
        results["off"],
    )
    assert (chunks, whole_chunks) == (3, 1)
    assert frames == whole_frames == 70  # the frames from 0.5 s up to 3.3 s at 25 fps
    assert abs(audio_end - video_end) <= 0.040
    assert decode_errors(tmp_path / "on.mkv") == ""


def test_auto_still_encodes_a_ladder_whole(api: Api, four_seconds: Path) -> None:
    resp = upload_form(api, four_seconds, [{"type": "hls", "video": [{"codec": "h264"}]}], chunking="auto")
    assert resp.status_code == 202, resp.text
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed", done
    assert done["outputs"][0]["chunks"] == 1
