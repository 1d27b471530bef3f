"""Loudness normalization of an output's audio (EBU R128 / ITU-R BS.1770): what is asked (`LoudnessSpec`,
`audio.loudness` of an output) and what a finished output reports (`LoudnessReport`, in `audio.loudness`).
Only pydantic; importable inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TARGET_LUFS = -23.0  # EBU R128 broadcast; streaming services use about -14 to -16
DEFAULT_TRUE_PEAK_DB = -1.0


class LoudnessSpec(BaseModel):
    """`audio.loudness`: normalize to `target_lufs` with the true peak at or under `true_peak_db`, or with
    `measure_only` just report the audio's loudness and leave it as it is."""

    model_config = ConfigDict(extra="forbid")

    target_lufs: float = Field(
        default=DEFAULT_TARGET_LUFS,
        ge=-70,
        le=-5,
        description="Integrated loudness to reach, in LUFS (-70 to -5; default -23, EBU R128).",
    )
    true_peak_db: float = Field(
        default=DEFAULT_TRUE_PEAK_DB,
        ge=-9,
        le=0,
        description="Ceiling of the true peak, in dBTP (-9 to 0; default -1).",
    )
    measure_only: bool = Field(
        default=False, description="Only measure and report the loudness; the audio is not changed."
    )

    @model_validator(mode="after")
    def _no_target_when_measuring(self) -> LoudnessSpec:
        # Compared with the defaults, not model_fields_set: a dumped spec carries every field.
        if self.measure_only and (
            self.target_lufs != DEFAULT_TARGET_LUFS or self.true_peak_db != DEFAULT_TRUE_PEAK_DB
        ):
            raise ValueError("measure_only takes no target_lufs or true_peak_db: it changes nothing")
        return self


class LoudnessLevels(BaseModel):
    """One measurement (ffmpeg's loudnorm analysis, BS.1770 gating)."""

    integrated_lufs: float = Field(description="Integrated loudness, LUFS.")
    true_peak_db: float = Field(description="True peak, dBTP.")
    loudness_range_lu: float = Field(description="Loudness range (LRA), LU.")


class LoudnessReport(BaseModel):
    """`audio.loudness` of a finished output: the input's and the output's levels, and what was done."""

    input: LoudnessLevels = Field(description="The source audio (the clip or join the output is made from).")
    output: LoudnessLevels = Field(description="The finished output's audio, measured after encoding.")
    target_lufs: float | None = Field(default=None, description="What was asked; null when measure_only.")
    true_peak_db: float | None = Field(default=None, description="The ceiling asked; null when measure_only.")
    normalization: Literal["linear", "dynamic", "none"] = Field(
        description="`linear`: one gain for the whole file (the dynamics kept); `dynamic`: the gain the "
        "ceiling needed varied over time (loudnorm's limiter); `none`: measure_only."
    )
