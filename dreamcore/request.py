"""What crosses every boundary: dream parameters, the request, progress events and the result.

Frozen pydantic models of plain data (bytes, ints, strings), so they pickle between processes.
Validation happens here, at the edge; the engine trusts what it receives.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dreamcore.catalog import model_info
from dreamcore.errors import DreamError, InvalidParams

DEFAULT_MODEL = "inception5h"
MAX_SEED = 2**31 - 1


class DreamParams(BaseModel):
    """The knobs DeepDream users know. `layer` may carry a channel: `mixed4d:139`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = DEFAULT_MODEL
    layer: str | None = Field(None, description="layer name, optionally `layer:channel`")
    channel: Annotated[int, Field(ge=0)] | None = None
    octaves: Annotated[int, Field(ge=1, le=8)] = 4
    octave_scale: Annotated[float, Field(gt=1.0, le=2.0)] = 1.4
    steps: Annotated[int, Field(ge=1, le=100)] = 10
    strength: Annotated[float, Field(gt=0.0, le=10.0)] = 1.5
    jitter: Annotated[int, Field(ge=0, le=128)] = 32
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    max_side: Annotated[int, Field(ge=32, le=8192)] = 1024
    tile_size: Annotated[int, Field(ge=64, le=4096)] | None = None  # None: the engine's default

    @model_validator(mode="before")
    @classmethod
    def _split_channel(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("layer"), str) and ":" in data["layer"]:
            name, _, channel = data["layer"].partition(":")
            if not channel.strip().isdigit():
                raise ValueError(
                    f"channel in `{data['layer']}` must be a whole number, like `mixed4d:139`"
                )
            if data.get("channel") is not None and int(channel) != data["channel"]:
                raise ValueError("give the channel once: either `layer:channel` or `channel`")
            data = {**data, "layer": name.strip(), "channel": int(channel)}
        return data

    @model_validator(mode="after")
    def _check_layer(self) -> DreamParams:
        info = model_info(self.model)
        layer = info.layer(self.layer or info.default_layer)
        if self.channel is not None and self.channel >= layer.channels:
            raise InvalidParams(
                f"channel {self.channel} is out of range: `{layer.name}` has channels "
                f"0..{layer.channels - 1}."
            )
        if (
            layer.name != self.layer
        ):  # store the canonical name (aliases resolved, default filled in)
            object.__setattr__(self, "layer", layer.name)
        return self

    @property
    def target(self) -> str:
        """`layer` or `layer:channel`, as a user would type it."""
        return self.layer if self.channel is None else f"{self.layer}:{self.channel}"


def make_params(**values: object) -> DreamParams:
    """Build DreamParams, turning every validation problem into one readable InvalidParams."""
    values = {k: v for k, v in values.items() if v is not None}
    try:
        return DreamParams(**values)
    except DreamError:
        raise
    except ValidationError as err:
        raise InvalidParams(describe_validation_error(err)) from None


def describe_validation_error(err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        cause = e.get("ctx", {}).get("error")
        if isinstance(cause, DreamError):  # raised inside a validator: already user text
            problems.append(str(cause))
            continue
        where = ".".join(str(p) for p in e["loc"]) or "parameters"
        message = e["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


class DreamRequest(BaseModel):
    """An encoded image and how to dream it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: bytes
    params: DreamParams = DreamParams()
    output_max_bytes: Annotated[int, Field(ge=1024)] | None = None  # e.g. the Discord upload limit
    preview: bool = False  # attach a small JPEG to progress events at the end of each octave


class DreamProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    octave: int  # 1-based
    octaves: int
    step: int  # 1-based within the octave
    steps: int
    preview: bytes | None = None

    def keeping_preview_of(self, older: DreamProgress) -> DreamProgress:
        """This event, carrying `older`'s preview if it has none: progress events are coalesced
        when a reader falls behind, and an octave's preview should survive that."""
        if self.preview is None and older.preview is not None:
            return self.model_copy(update={"preview": older.preview})
        return self

    @property
    def fraction(self) -> float:
        return ((self.octave - 1) * self.steps + self.step) / (self.octaves * self.steps)


class DreamResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    image: bytes
    format: Literal["png", "webp", "jpeg"]
    width: int
    height: int
    seed: int
    model: str
    target: str
    octaves_run: int
    seconds: float
    objective_start: float
    objective_end: float
    notes: tuple[str, ...] = ()  # things the user should know ("animated: first frame used")
