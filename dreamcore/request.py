"""What crosses every boundary: dream parameters, the request, progress events and the result.

Frozen pydantic models of plain data (bytes, ints, strings), so they pickle between processes.
Validation happens here, at the edge; the engine trusts what it receives.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dreamcore.catalog import LOGITS, find_class, model_info
from dreamcore.errors import DreamError, InvalidParams
from dreamcore.targets import LayerTerm, format_terms, parse_terms

DEFAULT_MODEL = "inception5h"
MAX_SEED = 2**31 - 1
MAX_SMOOTH = 8
MAX_FRAMES = 240


class DreamParams(BaseModel):
    """The knobs DeepDream users know, and a few more.

    `layer` is a target expression (see dreamcore.targets): `mixed4c`, `mixed4d:139` or a mix
    `mixed4c+mixed4d:139*0.5`; validation stores it canonical. `target_class` dreams a class
    instead of layers ("more banana"); `guided` says the request carries a guide image.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = DEFAULT_MODEL
    layer: str | None = Field(None, description="a layer, `layer:channel`, or a weighted mix")
    target_class: str | None = Field(None, description="a class name of the model's classifier")
    guided: bool = False
    smooth: Annotated[int, Field(ge=0, le=MAX_SMOOTH)] = 0  # Laplacian levels; 0 = classic
    colors: Literal["dream", "original"] = "dream"
    octaves: Annotated[int, Field(ge=1, le=8)] = 4
    octave_scale: Annotated[float, Field(gt=1.0, le=2.0)] = 1.4
    steps: Annotated[int, Field(ge=1, le=100)] = 10
    strength: Annotated[float, Field(gt=0.0, le=10.0)] = 1.5
    jitter: Annotated[int, Field(ge=0, le=128)] = 32
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    max_side: Annotated[int, Field(ge=32, le=8192)] = 1024
    tile_size: Annotated[int, Field(ge=64, le=4096)] | None = None  # None: the engine's default
    # Animation (dreamcore/engine/animate.py): `animate` makes one from a still; an animated
    # upload is dreamed frame by frame anyway. `frames`: how many (at most, for an upload).
    animate: Literal["zoom", "spin", "pan"] | None = None
    frames: Annotated[int, Field(ge=2, le=MAX_FRAMES)] | None = None  # None: 16, or all
    frame_steps: Annotated[int, Field(ge=1, le=50)] = 5  # steps per frame after the first
    fps: Annotated[int, Field(ge=1, le=30)] = 12
    zoom: Annotated[float, Field(ge=1.0, le=1.5)] | None = None  # per frame; None: the motion's
    rotate: Annotated[float, Field(ge=-45.0, le=45.0)] | None = None  # degrees per frame
    pan: Annotated[int, Field(ge=-64, le=64)] | None = None  # pixels per frame
    # How an upload's frame carries the last frame's dream (dreamcore/engine/temporal.py): moved
    # along the motion (flow), or mixed in where it stands (blend: this much of the new frame).
    temporal: Literal["flow", "blend"] = "flow"
    blend: Annotated[float, Field(gt=0.0, le=1.0)] = 0.85
    output: Literal["webp", "gif", "mp4"] | None = None  # animations; None: WebP (GIF without it)

    @model_validator(mode="before")
    @classmethod
    def _fold_channel(cls, data: object) -> object:
        """`channel=139` with `layer="mixed4d"` is `layer="mixed4d:139"` (one spelling kept)."""
        if isinstance(data, dict) and data.get("channel") is not None:
            data = dict(data)
            channel = data.pop("channel")
            layer = data.get("layer")
            if not isinstance(layer, str) or ":" in layer or "+" in layer:
                raise ValueError("give the channel once, as `layer:channel`")
            data["layer"] = f"{layer}:{channel}"
        elif isinstance(data, dict) and "channel" in data:
            data = {k: v for k, v in data.items() if k != "channel"}
        return data

    @model_validator(mode="after")
    def _check_target(self) -> DreamParams:
        info = model_info(self.model)
        if self.target_class is not None:
            if self.guided:
                raise InvalidParams("A guide image works with layers, not with `class`.")
            _, name = find_class(self.model, self.target_class)
            object.__setattr__(self, "target_class", name)
            object.__setattr__(self, "layer", None)  # the class is the whole objective
            return self
        terms = parse_terms(info, self.layer or info.default_layer)
        if self.guided and any(t.channel is not None for t in terms):
            raise InvalidParams("A guide image matches whole layers; drop the `:channel`.")
        if any(t.layer == LOGITS for t in terms):
            raise InvalidParams("To dream a class, use `class` (e.g. `class:banana`).")
        object.__setattr__(self, "layer", format_terms(terms))  # canonical
        return self

    @property
    def terms(self) -> tuple[LayerTerm, ...]:
        return parse_terms(model_info(self.model), self.layer) if self.layer else ()

    @property
    def target(self) -> str:
        """What is dreamed, as a user would type it: the layer expression, or `class:<name>`."""
        return f"class:{self.target_class}" if self.target_class else str(self.layer)


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
    guide: bytes | None = None  # the guide image, when params.guided
    output_max_bytes: Annotated[int, Field(ge=1024)] | None = None  # e.g. the Discord upload limit
    preview: bool = False  # attach a small JPEG to progress events at the end of each octave

    @model_validator(mode="after")
    def _guide_iff_guided(self) -> DreamRequest:
        if self.params.guided != (self.guide is not None):
            raise InvalidParams("`guided` params need the guide image, and only they do.")
        return self


class DreamProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    octave: int  # 1-based
    octaves: int
    step: int  # 1-based within the octave
    steps: int
    preview: bytes | None = None
    frame: int = 0  # 1-based frame of an animation; 0 for a still
    frames: int = 0

    def keeping_preview_of(self, older: DreamProgress) -> DreamProgress:
        """This event, carrying `older`'s preview if it has none: progress events are coalesced
        when a reader falls behind, and an octave's preview should survive that."""
        if self.preview is None and older.preview is not None:
            return self.model_copy(update={"preview": older.preview})
        return self

    @property
    def fraction(self) -> float:
        within = ((self.octave - 1) * self.steps + self.step) / (self.octaves * self.steps)
        if not self.frames:
            return within
        return (self.frame - 1 + within) / self.frames


class DreamResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    image: bytes
    format: Literal["png", "webp", "jpeg", "gif", "mp4"]
    width: int
    height: int
    frames: int = 1  # > 1: an animation
    seed: int
    model: str
    target: str
    octaves_run: int
    seconds: float
    objective_start: float
    objective_end: float
    notes: tuple[str, ...] = ()  # things the user should know ("animated: first frame used")
