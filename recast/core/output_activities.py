"""Which activity makes each kind of output, and which of them can make one from a clip or a join.

Shared by the workflow (it dispatches each output to its activity and fails what cannot be made) and
the API (it refuses such a job at submit with 400), so both give the same answer.
"""

from __future__ import annotations

from recast.core.contract import (
    ENCODE_IMAGE,
    ENCODE_OUTPUT,
    MAKE_ANIMATION,
    MAKE_THUMBNAILS,
    MAKE_WAVEFORM,
    PACKAGE_STREAM,
)
from recast.core.formats import IMAGE_TYPES, OutputType
from recast.core.specs import OutputSpec

# The activity that makes an output of each type (contract.OUTPUT_ACTIVITIES declares them); the rest
# use encode_output. All take an EncodeRequest
# and return an EncodeResult, so the workflow treats every kind of output alike.
OUTPUT_ACTIVITY: dict[OutputType, str] = {
    # The whole ladder in one activity: one decode feeds every rung, one muxer writes the manifest.
    OutputType.hls: PACKAGE_STREAM,
    OutputType.dash: PACKAGE_STREAM,
    **{t: ENCODE_IMAGE for t in IMAGE_TYPES},
    OutputType.thumbnails: MAKE_THUMBNAILS,
    OutputType.gif: MAKE_ANIMATION,
    OutputType.waveform: MAKE_WAVEFORM,
}
# The activities that make their output from EncodeRequest.parts and .clip. Outputs of any other
# activity are refused for a trimmed or joined job (400 at submit, failed output otherwise), rather
# than made silently from the whole first input.
TIMELINE_ACTIVITIES: set[str] = {
    ENCODE_OUTPUT,
    PACKAGE_STREAM,
    ENCODE_IMAGE,
    MAKE_THUMBNAILS,
    MAKE_ANIMATION,
    MAKE_WAVEFORM,
}


def output_activity(spec: OutputSpec) -> str:
    """The activity that makes this output: by its type, but a webp with `animation` is an animated
    preview, not a still (a spec from before animations has none, so a replay dispatches as it did)."""
    if spec.animation is not None:
        return MAKE_ANIMATION
    return OUTPUT_ACTIVITY.get(spec.type, ENCODE_OUTPUT)


def timeline_unsupported(spec: OutputSpec, *, clipped: bool, joined: bool) -> str | None:
    """Why this output cannot be made from a clip or a join, if its activity does not do them."""
    if (clipped or joined) and output_activity(spec) not in TIMELINE_ACTIVITIES:
        what = "a clip" if clipped else "joined inputs"
        return f"{spec.type.value} outputs cannot be made from {what} yet"
    return None
