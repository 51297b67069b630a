"""The pure-Python reference of the provider schemes (``shared/providers.md`` §1-§5).

Written straight from the rules, with exact integers and :class:`~fractions.Fraction`. Where a
vendor's own code computes in binary64 floats (Mistral, Qwen), every float operation is
written as what it is: an exact rational rounded once to the nearest double (``_double``),
so the twin reproduces the vendor's floats bit for bit without using them; the tests hold it
to the vendors' float code. The compiled kernels (``_kernels.pxd``) are tested against this.

Each function returns ``(tokens, resized width, resized height, units, cols, rows)``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..rules import DetailParams

Outcome = tuple[int, int, int, int, int, int]


class AspectRatioTooLarge(Exception):
    """providers 4.1 step 1: the vendor's smart_resize raises for a ratio above 200."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _double(x: Fraction | int) -> Fraction:
    """The binary64 nearest to ``x`` (ties to even), as an exact rational: what one IEEE float
    operation on exact operands gives. ``float(Fraction)`` divides two ints, which Python
    rounds correctly."""
    return Fraction(float(Fraction(x)))


def _sqrt_double(x: Fraction) -> Fraction:
    # IEEE sqrt is correctly rounded; x is a double already, so this is exact float math.
    return Fraction(math.sqrt(float(x)))


# --- Claude (providers 1.1, DOCUMENTED) ---------------------------------------------------------

def claude(p: DetailParams, w: int, h: int) -> Outcome:
    """28-px patches; the docs' bisection of the long edge, short edge rounded half to even.
    ``p.cap`` is the tier's MAX_EDGE and ``p.budget`` its MAX_TOK (step 1)."""
    patch = p.patch

    def fits(x: int, y: int) -> bool:  # step 2: the padded edges, then the patch count
        cx, cy = _ceil_div(x, patch), _ceil_div(y, patch)
        return cx * patch <= p.cap and cy * patch <= p.cap and cx * cy <= p.budget

    if not fits(w, h):  # step 3
        if h > w:  # step 4: bisect the long edge, swap back
            h, w = _claude_bisect(h, w, fits)
        else:
            w, h = _claude_bisect(w, h, fits)
    cols, rows = _ceil_div(w, patch), _ceil_div(h, patch)
    return cols * rows, w, h, cols * rows, cols, rows  # step 6


def _claude_bisect(long: int, short: int, fits: Callable[[int, int], bool]) -> tuple[int, int]:
    # step 5: round(mid * short / long) half to even, as the API resolves ties; Python's
    # round() of a Fraction is exact and half-to-even.
    def short_of(mid: int) -> int:
        return max(round(Fraction(mid * short, long)), 1)

    lo, hi = 1, long
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if fits(mid, short_of(mid)):
            lo = mid
        else:
            hi = mid
    return lo, short_of(lo)


# --- Gemini 1.5 / 2.x tiles (providers 2.1) -----------------------------------------------------

def gemini_tiles(p: DetailParams, w: int, h: int) -> Outcome:
    """Both sides <= 384: one charge of 258 (DOCUMENTED). Otherwise the crop unit
    floor(min / 1.5) (DOCUMENTED "roughly"), clamped to 256..768 (DOCUMENTED for 1.5, ASSUMED
    for 2.x), and ceil(w / unit) * ceil(h / unit) tiles (ASSUMED ceil) of 258 each."""
    if w <= p.short_side and h <= p.short_side:
        return p.base, w, h, 1, 1, 1
    unit = math.floor(Fraction(min(w, h)) / Fraction(3, 2))
    unit = min(max(unit, p.lo), p.hi)
    cols, rows = _ceil_div(w, unit), _ceil_div(h, unit)
    return cols * rows * p.per_tile, w, h, cols * rows, cols, rows


# --- Mistral (providers 3.1, mistral-common 1.13.1) --------------------------------------------

def mistral(p: DetailParams, w: int, h: int) -> Outcome:
    """ratio = max(w / max_size, h / max_size) in binary64; above 1, each side becomes
    max(round(side / ratio), 1) (Python's round: half to even on the double); then
    ceil(side / (patch * merge)) cells a side and rows * (cols + 1) tokens."""
    ratio = max(_double(Fraction(w, p.cap)), _double(Fraction(h, p.cap)))
    if ratio > 1:
        w = max(round(_double(w / ratio)), 1)
        h = max(round(_double(h / ratio)), 1)
    cell = p.patch * p.merge
    cols, rows = (w - 1) // cell + 1, (h - 1) // cell + 1
    return rows * (cols + 1), w, h, cols * rows, cols, rows


# --- Qwen (providers 4.1, transformers 5.25.0 smart_resize) ------------------------------------

def qwen(p: DetailParams, w: int, h: int) -> Outcome:
    """smart_resize with factor ``p.patch``, min/max pixels ``p.lo``/``p.hi``, each of the
    vendor's float operations rounded where it rounds; tokens (h/f)(w/f) plus ``p.markers``
    (the +2 of <|vision_start|> and <|vision_end|>, providers 4.1 step 6)."""
    f = p.patch
    if max(w, h) > 200 * min(w, h):  # step 1: the float ratio exceeds 200 exactly then
        raise AspectRatioTooLarge
    # step 2: round(side / f): a tie in the double is a tie in the rational (no rounding
    # of side / f can reach x.5 from elsewhere), so the exact rational rounds the same.
    hb = round(Fraction(h, f)) * f
    wb = round(Fraction(w, f)) * f
    if hb * wb > p.hi:  # step 3
        beta = _sqrt_double(_double(Fraction(h * w, p.hi)))
        hb = max(f, math.floor(_double(_double(h / beta) / f)) * f)
        wb = max(f, math.floor(_double(_double(w / beta) / f)) * f)
    elif hb * wb < p.lo:  # step 4
        beta = _sqrt_double(_double(Fraction(p.lo, h * w)))
        hb = math.ceil(_double(_double(h * beta) / f)) * f
        wb = math.ceil(_double(_double(w * beta) / f)) * f
    cols, rows = wb // f, hb // f
    return cols * rows + p.markers, wb, hb, cols * rows, cols, rows
