"""The result of :func:`visiontokens.explain_image_tokens`, shared by both implementations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageCost:
    """What one image costs, and how the figure was reached.

    ``patches`` is None for tile models and ``tiles`` None for patch models; both are None,
    and the resized size is the given one, for a tile model at ``low`` detail, which costs
    its base whatever the size (spec 3.2 step 4).
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

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
