"""The most one image can cost on a model at a detail level, over every possible size.

What a rate limiter charges for an image whose size it cannot know (issue 5). Exact: the
bound is attained by a witness size (``worst_case_size``), and the tests check both that the
witness costs the bound and that no size costs more.
"""

from __future__ import annotations

from ..rules import DetailParams
from .._spec import PATCH



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


def worst_case_size(p: DetailParams) -> tuple[int, int]:
    """A width x height that costs the most at these parameters."""
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
