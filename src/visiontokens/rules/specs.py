"""What a rule is, as data: the parameters of one model at one detail level, the model, the
ruleset, and the output-token rules of image-generation models.

The kernels see only the integers of one :class:`DetailParams`; everything else here is for
resolution, listing and explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from .._errors import detail_not_applicable_error, input_fidelity_error, unsupported_detail_error
from .._spec import LEVELS

#: What a caller may do with a known but undocumented model (spec 3.5): "error" (the default)
#: raises UndocumentedModelError; "assume" counts it like the documented model the data names.
UNDOCUMENTED_POLICIES = ("error", "assume")
#: The type of the undocumented= keyword. (Literal, not str: the compiled request walk would
#: turn a wrong type into a bare TypeError before our check.)
UndocumentedPolicy = Literal["error", "assume"]


@dataclass(frozen=True)
class DetailParams:
    """The integer parameters of one model at one detail level: all a kernel needs."""

    level: str  # "low", "high" or "original"
    scheme: str  # "patch", "tile" or "flat" (tile model at low detail: base only)
    cap: int  # patch: size cap; tile: the 2048 fit box
    budget: int  # patch budget; 0 = none
    mult_num: int  # patch multiplier = mult_num / mult_den, exactly (spec 3.1 step 5)
    mult_den: int
    reject_over: int  # reject above this many patches; 0 = never (spec 3.1 step 4)
    short_side: int  # tile: shortest side target S (spec 3.2 step 2)
    base: int
    per_tile: int
    fidelity_square: int  # GPT Image 1 input_fidelity="high" extras (spec 3.3)
    fidelity_other: int
    # Provider schemes ("claude", "gemini_tiles", "fixed", "mistral", "qwen"; providers.md):
    # patch edge (Claude 28, Mistral patch, Qwen factor), merge (Mistral), lo/hi (Gemini crop
    # unit clamp, Qwen min/max pixels), marker tokens added per image (Qwen). cap and budget
    # are Claude's MAX_EDGE/MAX_TOK and Mistral's max image size; short_side and base are
    # Gemini's 384 px / 258 tokens for small images, base the flat count of "fixed".
    patch: int = 0
    merge: int = 1
    lo: int = 0
    hi: int = 0
    markers: int = 0
    #: What the figure is (see EXACTNESS): "exact", "documented_maximum", "assumed" or
    #: "empirical".
    exactness: str = "exact"


#: What a figure is, per detail level of a model:
#: - "exact": the vendor's documented rule or own code, followed exactly;
#: - "documented_maximum": the vendor documents the figure as a maximum (Gemini 3 levels);
#: - "assumed": a part of the rule is our inference (ASSUMED in providers.md);
#: - "empirical": a parameter comes from third-party evidence (EMPIRICAL in providers.md).
EXACTNESS = ("exact", "documented_maximum", "assumed", "empirical")


@dataclass(frozen=True)
class ModelSpec:
    """A documented (or registered) model in one ruleset."""

    id: str
    ruleset: str
    scheme: str  # "patch" or "tile"
    params: Mapping[str, DetailParams]  # by level, without "auto"
    auto: str  # the level "auto" stands for (spec 3.4)
    multiplier: str | None  # patch models, as written in the guide ("1.62")
    base: int | None = None
    per_tile: int | None = None
    status: str = "current"  # "current", "deprecated", "legacy" or "registered"
    source: str = ""
    low_same_as_high_assumed: bool = False  # spec 4.1 note 1 (ASSUMED)
    # spec 3.5: an undocumented model counted like a documented one (undocumented="assume"):
    # the documented model's id, and the evidence the data records ("measured-auto-only", "none")
    assumed_from: str | None = None
    evidence: str | None = None
    # Provider models (providers.md): the provider, the date of the docs the data follows,
    # Claude's tier, the detail levels in order (None: OpenAI's LEVELS; () : detail does not
    # apply) and other spellings of them (Gemini's MEDIA_RESOLUTION_*; "auto" for the default)
    provider: str = "openai"
    docs_as_of: str | None = None
    tier: str | None = None
    levels: tuple[str, ...] | None = None
    spellings: Mapping[str, str] | None = None

    @property
    def details(self) -> tuple[str, ...]:
        """The detail levels this model accepts, "auto" included."""
        if self.levels is not None:
            return self.levels + ("auto",)
        return tuple(level for level in LEVELS if level in self.params) + ("auto",)

    @property
    def has_input_fidelity(self) -> bool:
        return any(p.fidelity_square or p.fidelity_other for p in self.params.values())

    def detail_params(self, detail: object) -> DetailParams:
        """Parameters for a detail string; "auto" (or None) resolves per model (spec 3.4)."""
        if detail is None or detail == "auto":
            return self.params[self.auto]
        if self.levels is not None:  # a provider model (providers.md)
            if type(detail) is str:
                level = self.spellings.get(detail, detail) if self.spellings else detail
                if level == "auto":
                    return self.params[self.auto]
                if level in self.levels:
                    return self.params[level]
            if not self.levels:
                raise detail_not_applicable_error(self.id, detail)
            known = ("low", "medium", "high", "ultra_high", "auto",
                     *(self.spellings or {}))  # Gemini: the media-resolution levels
            raise unsupported_detail_error(self.id, detail, self.details, known)
        if type(detail) is str and detail in self.params:
            return self.params[detail]
        # ASSUMED (spec 8.3): a level the model lacks ("original" on gpt-4o) is an error,
        # as the API is taken to reject it, rather than a silent fallback to "high".
        raise unsupported_detail_error(self.id, detail, self.details)


def fidelity_extra(model: str, has_fidelity: bool, square: int, other: int,
                   width: int, height: int, value: object) -> int:
    """Tokens added by GPT Image 1's ``input_fidelity="high"`` (spec 3.3).

    ASSUMED (spec 8.4): "square" means ``width == height`` of the image as given.
    ASSUMED: the extra applies at every detail level. ``"low"`` (the API's default) and
    None add nothing on any model; ``"high"`` on a model without the rule is an error.
    """
    if value is None or (type(value) is str and value == "low"):
        return 0
    if type(value) is str and value == "high" and has_fidelity:
        return square if width == height else other
    raise input_fidelity_error(model, value)


@dataclass
class Ruleset:
    name: str
    guide_as_of: str
    description: str
    reject_patches_over: int | None
    models: dict[str, ModelSpec] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> model id (shipped or user)
    # spec 3.5: known models the guide gives no image rule, by exact id and by name prefix
    undocumented: dict[str, "Undocumented"] = field(default_factory=dict)
    undocumented_prefixes: list[tuple[str, "Undocumented"]] = field(default_factory=list)


@dataclass(frozen=True)
class Undocumented:
    """A known model without an image rule (spec 3.5), and what the data says it behaves like."""

    like: str  # the closest documented model
    evidence: str  # "measured-auto-only" or "none"
    source: str
    released: str | None = None


# --- output image models (spec 6.2) ---------------------------------------------------------

OUTPUT_RULES = ("table", "flexible")


@dataclass(frozen=True)
class OutputModelSpec:
    """An image-generation model's output-token rule in one ruleset (spec 6.2).

    ``rule`` is "table" (a documented cell per quality and size) or "flexible" (any size
    within limits, priced by a formula). The kernels see only these integers.
    """

    id: str
    ruleset: str
    rule: str
    qualities: tuple[str, ...]  # in data order, cheapest first; "auto" is not one of them
    sizes: tuple[str, ...]  # table: its sizes, as the API spells them; flexible: ()
    cells: Mapping[str, Mapping[str, int]]  # table: quality -> size -> tokens per image
    quality_factors: Mapping[str, int]  # flexible: quality -> f
    pixel_offset: int  # flexible: tokens = ceil(f * s * (pixel_offset + w*h) / divisor)
    divisor: int
    size_multiple: int  # flexible: both sides multiples of this
    long_side_max: int
    ratio_max: int  # long side <= ratio_max * short side
    pixels_min: int
    pixels_max: int
    partial_image_tokens: int  # spec 6.2: each partial image adds this (documented)
    partial_images_max: int
    n_max: int
    input_fidelity: str  # what the edits endpoint takes: "low or high", "low", "always high"
    empirical: bool = False  # spec 6.2: the gpt-image-2 rule is EMPIRICAL
    evidence: str = ""
    source: str = ""
    assumed_from: str | None = None  # undocumented="assume": the documented model used
    status: str = "current"


@dataclass
class OutputTable:
    """The output-token section of one ruleset."""

    ruleset: str
    models: dict[str, OutputModelSpec]
    undocumented: list[Mapping[str, Any]]  # {"ids" or "prefixes", "like", "evidence", ...}
    tool_default_model: str  # the Responses image_generation tool's model when omitted
    tool_default_source: str
