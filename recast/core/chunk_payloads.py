"""Payloads of split-and-stitch encoding's activities: plan_chunks → one encode_chunk per chunk →
stitch_chunks → remove_chunks (workflows/chunked.py). Only pydantic; importable inside the workflow
sandbox.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from recast.core.chunking import Chunking
from recast.core.payloads import EncodeRequest, EncodeResult


class ChunkRange(BaseModel):
    index: int
    start_frame: int
    frames: int


class ChunkPlanRequest(BaseModel):
    encode: EncodeRequest
    chunking: Chunking
    chunk_duration_s: float | None = None


class ChunkPlan(BaseModel):
    """What the plan step decided. No chunks (or one): encode the output whole; `reason` says why."""

    chunks: list[ChunkRange] = Field(default_factory=list)
    rate_num: int = 0  # the source's constant frame rate, rate_num / rate_den
    rate_den: int = 1
    total_frames: int = 0  # the frames the stitched output must have, exactly
    prefix: str = ""  # where the chunks are kept in storage until the output is stored
    reason: str = ""

    @property
    def chunked(self) -> bool:
        return len(self.chunks) > 1


class ChunkRequest(BaseModel):
    encode: EncodeRequest
    chunk: ChunkRange
    rate_num: int
    rate_den: int
    key: str  # where the encoded chunk goes in storage


class ChunkResult(BaseModel):
    index: int
    key: str
    frames: int
    size: int


class StitchRequest(BaseModel):
    encode: EncodeRequest
    chunks: list[ChunkResult]
    total_frames: int
    first_frame: int = 0  # the source's frame the output starts on (a clip's): the audio starts there too
    rate_num: int
    rate_den: int


class StitchResult(BaseModel):
    result: EncodeResult
    stitch_ms: int = Field(description="Concatenating the chunks and muxing the audio, encoded once.")
    verify_ms: int = Field(description="The full decode pass and the checks of the stitched file.")
