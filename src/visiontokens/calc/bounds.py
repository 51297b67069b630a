"""The most one image can cost on a model at a detail level, over every possible size.

What a rate limiter charges for an image whose size it cannot know (issue 5). Exact: the
bound is attained by a witness size (``worst_case_size``), and the tests check both that the
witness costs the bound and that no size costs more.
"""

from __future__ import annotations

import math
from .._errors import NoUpperBoundError
from .._spec import PATCH

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from ..rules import DetailParams



def _most_patches(p: DetailParams) -> tuple[int, int]:
    """(columns, rows) of patches with the largest product any accepted image reaches.

    An image of (32 c) x (32 r), capped, is never shrunk while c * r is within the budget
    and is accepted while within the rejection limit, so every such product is reached;
    and the shrink of spec 3.1 step 3 only ever lands within the budget, on a product of
    the same form. So the maximum is the largest c * r <= min(budget, limit), c, r <= P.
    """
    per_side = -(-p.cap // PATCH)
    limit = min(x for x in (p.budget, p.reject_over, per_side * per_side) if x)
    best = (1, 1)
    for columns in range(per_side, 0, -1):
        rows = min(per_side, limit // columns)
        if columns * rows <= best[0] * best[1] and columns * per_side < best[0] * best[1]:
            break
        if columns * rows > best[0] * best[1]:
            best = (columns, rows)
    return best


def _most_cells(per_side: int, limit: int, ratio: int = 0) -> tuple[int, int]:
    """(columns, rows) with the largest product <= limit, each <= per_side (0: no cap), and
    columns <= ratio * rows when ratio is given (columns >= rows)."""
    best = (1, 1)
    rows = math.isqrt(limit)
    while rows >= 1:
        columns = limit // rows
        if per_side:
            columns = min(columns, per_side)
        if ratio:
            columns = min(columns, ratio * rows)
        if columns >= rows and columns * rows > best[0] * best[1]:
            best = (columns, rows)
        if (per_side and rows * per_side <= best[0] * best[1]) or \
                (ratio and ratio * rows * rows <= best[0] * best[1]):
            break
        rows -= 1
    return best


def worst_case_size(p: DetailParams) -> tuple[int, int]:
    """A width x height that costs the most at these parameters."""
    if p.scheme == "claude":
        # providers 1.1: an image of (28 c) x (28 r) that fits is not resized and costs c * r,
        # and every resized image fits: the most is the largest c * r <= MAX_TOK with
        # 28 c, 28 r <= MAX_EDGE (4784 and 1568, providers 1.1 step 1).
        columns, rows = _most_cells(p.cap // p.patch, p.budget)
        return p.patch * columns, p.patch * rows
    if p.scheme == "mistral":
        # providers 3.1: sides end at most at max_image_size, and rows * (cols + 1) grows
        # with both: max_image_size square costs the most (4160 Pixtral, 3080 Mistral 3).
        return p.cap, p.cap
    if p.scheme == "qwen":
        # providers 4.1: with max_pixels >= 200 f^2 (rules.register checks it) a resized
        # image keeps (h/f)(w/f) <= max_pixels / f^2; one of f c x f r, c * r at most that,
        # aspect ratio within 200, is not resized.
        columns, rows = _most_cells(0, p.hi // (p.patch * p.patch), 200)
        return p.patch * columns, p.patch * rows
    if p.scheme == "gemini_tiles":
        # providers 2.1: no largest image size is documented, and tiles grow with the size
        raise NoUpperBoundError("no upper bound: the provider documents no largest image size")
    if p.scheme == "patch":
        columns, rows = _most_patches(p)
        return min(PATCH * columns, p.cap), min(PATCH * rows, p.cap)
    if p.scheme == "tile":
        # the short side ends at most at S (step 2), the long side at most at the box
        return min(p.short_side, p.cap), p.cap
    return 1, 1  # flat: the base, whatever the size


def max_image_tokens(model: str, detail: str = "auto", *, ruleset: str | None = None,
                     undocumented: str = "error", enforce_patch_limit: bool = True) -> int:
    """The most an image of any size can cost on ``model`` at ``detail``: 1445 for gpt-4o
    high, 6636 for gpt-4.1-mini high (ruleset 2026-09). For GPT Image models this leaves out
    ``input_fidelity`` extras. The policy keywords are the calculator's."""
    from .._extensions import twin

    bound: int = twin("tokens").get_model(
        model, ruleset=ruleset, undocumented=undocumented,
        enforce_patch_limit=enforce_patch_limit).max_tokens(detail)
    return bound
