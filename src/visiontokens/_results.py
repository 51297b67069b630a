"""The results of :func:`visiontokens.explain_image_tokens` and
:func:`visiontokens.explain_output_image_tokens`, shared by both implementations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageCost:
    """What one image costs, and how the figure was reached.

    ``patches`` is None for tile models and ``tiles`` None for patch models; both are None,
    and the resized size is the given one, for a tile model at ``low`` detail, which costs
    its base whatever the size.
    """

    tokens: int
    model: str  # canonical id
    detail: str  # the resolved level: "low", "high" or "original"
    scheme: str  # "patch" or "tile"
    width: int
    height: int
    resized_width: int
    resized_height: int
    patches: int | None
    tiles: int | None
    ruleset: str
    multiplier: str | None = None  # patch models: as the guide writes it ("1.62")
    input_fidelity: str | None = None
    # spec 3.5, undocumented="assume": the documented model this figure was counted like, and
    # the evidence for it ("measured-auto-only", "none"); None for a documented model.
    assumed_from: str | None = None
    evidence: str | None = None
    # What the figure is (providers.md): the provider ("openai", "anthropic", "google",
    # "mistral", "qwen", "amazon"); exactness: "exact", "documented_maximum" (Gemini 3 levels),
    # "assumed" (an ASSUMED part of the rule, or undocumented="assume") or "empirical"; the
    # Claude tier ("high" or "standard"); the grid (columns, rows) of patches, cells or tiles;
    # the marker tokens included in ``tokens`` (Qwen: 2); the date of the docs followed.
    provider: str = "openai"
    exactness: str = "exact"
    tier: str | None = None
    grid: tuple[int, int] | None = None
    marker_tokens: int | None = None
    docs_as_of: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class OutputImageCost:
    """What generating images costs in output tokens, and how it was reached.

    ``tokens = n * (per_image_tokens + partial_images * partial_image_tokens)``. With size or
    quality ``"auto"`` the API decides at generation time, so the figure is the costliest
    cell it could pick: ``upper_bound`` is True, ``why`` says which choice was bounded, and
    ``priced_size``/``priced_quality`` name the cell (ASSUMED). ``empirical`` is
    True when the rule is not published (gpt-image-2: EMPIRICAL).
    """

    tokens: int
    per_image_tokens: int  # one final image at priced_size and priced_quality
    model: str  # canonical id (as given, for an undocumented model counted like another)
    size: str  # as asked: "1536x1024" or "auto"
    quality: str  # as asked: "high" or "auto"
    priced_size: str  # the size the figure is for
    priced_quality: str
    n: int
    partial_images: int
    partial_image_tokens: int  # what each partial image adds (spec 6.2: 100)
    upper_bound: bool
    why: str | None  # why the figure is an upper bound; None when it is exact
    empirical: bool
    ruleset: str
    assumed_from: str | None = None  # undocumented="assume": the documented model used

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}
