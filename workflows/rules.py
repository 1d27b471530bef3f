"""The pure decisions TranscodeJob makes about its outputs: what an activity's failure means (the error
code and message a job or output gets), and whether an output can be made from the job's source at all.

Kept apart from workflows/transcode.py so the workflow class reads as the job's steps; like it, only
temporalio and recast.core, and deterministic (the workflow sandbox re-imports it on every run).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as StepTimeoutError

# Passed through, as in transcode.py: the workflow and these rules must share one copy of the models
# (an enum re-imported inside the sandbox would be a different class, and `is` comparisons would fail).
with workflow.unsafe.imports_passed_through():
    from recast.core.formats import InputKind, OutputType
    from recast.core.job import InputMetadata
    from recast.core.output_activities import timeline_unsupported
    from recast.core.payloads import InputPart
    from recast.core.requests import Clip
    from recast.core.specs import OutputSpec


def failure(err: BaseException) -> tuple[str, str]:
    """(error_code, error_message) from an activity failure, for the job or one of its outputs."""
    cause = err.__cause__ if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.type or "internal", cause.message
    if isinstance(cause, StepTimeoutError):
        return "timeout", "the step timed out on every attempt"
    return "internal", str(cause or err)


def unusable(spec: OutputSpec, source: Source) -> tuple[str, str] | None:
    """Why an output cannot be made from this input at all (a video output of an audio-only input;
    of a join with an input that has no video; a kind of output that does no trim or join)."""
    meta, parts = source.meta, source.parts
    if why := timeline_unsupported(spec, clipped=source.clip is not None, joined=bool(parts)):
        return "unsupported-input", why
    if meta.kind is InputKind.image and (not spec.type.is_image or spec.animation is not None):
        return (
            "image-input",
            f"the input is a still image; a {spec.type.value} output needs a video or audio input "
            "(from an image: jpg, png, webp, avif; not animated)",
        )
    if spec.type.is_visual and not (meta.width and meta.height):
        return "no-video-stream", f"the input has no video stream; a {spec.type.value} output needs one"
    if spec.video and not (meta.width and meta.height):
        lacking = next((i for i, p in enumerate(parts) if not (p.metadata.width and p.metadata.height)), None)
        which = "the input has" if lacking is None else f"inputs[{lacking}] has"
        return "no-video-stream", f"{which} no video stream; a {spec.type.value} output needs one"
    if (spec.type.is_audio or spec.type is OutputType.waveform) and not meta.audio_codec:
        return "no-audio-stream", f"the input has no audio stream; a {spec.type.value} output needs one"
    return None


@dataclass(frozen=True)
class Source:
    """What every output of the job is made from: the (first) input, the (joined) metadata, a join's
    inputs, the resolved clip."""

    key: str
    meta: InputMetadata
    parts: list[InputPart]
    clip: Clip | None
