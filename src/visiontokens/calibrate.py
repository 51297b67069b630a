"""Teach the library a model from its bill: fit a rule to rows of (width, height, detail,
billed image tokens).

>>> import visiontokens
>>> fit = visiontokens.calibrate(rows)          # rows from logs, or from a small probe
>>> fit.rule, fit.matched, fit.total
>>> fit.register("acme-vision")                 # then count_image_tokens(..., "acme-vision")
>>> fit.save("acme-vision.json")                # register_model(name, **data["register_model"])

The search knows the rule families of the library (the patch scheme of spec 3.1, the tile
scheme of spec 3.2, and the providers' schemes: claude, mistral, qwen, fixed and
gemini_tiles), one small searcher per scheme in ``SEARCHERS``: a new provider's scheme is
one more function there. A searcher reads the parameters off the rows' structure (the
multiplier from images too small to be resized, the tile costs from differences of tile
counts, the low-detail constant, a flat level's count, Gemini's tile cost from the common
divisor of the counts, Qwen's factor from the images no limit resizes), scans only the
one-dimensional ranges that are left (size cap, patch budget, fit box, shortest side,
Claude's edge and token limits, Mistral's cell and edge, Gemini's small side and crop-unit
clamp; Qwen's pixel limits as the value most rows' intervals share) on numpy arrays, and
every rule it reports is then checked row by row with the library's own kernel
(``visiontokens.Model``).

When the rows cannot tell rules apart, the result says so: :attr:`Calibration.ranges`
holds each parameter the rows leave open, :attr:`Calibration.candidates` the rules at the
ends of those ranges, and :attr:`Calibration.probes` the image sizes whose bills would split
them. Needs numpy only (a runtime dependency); not imported by ``import visiontokens``.
"""

from __future__ import annotations

import sys as _sys
import types as _types

import functools
import json
import math
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ._errors import ArgumentTypeError, InvalidArgumentError
from ._spec import LEVELS, MAX_BUDGET, MAX_CAP, MAX_DIMENSION, MAX_MULTIPLIER, MAX_TOKENS_PARAM, PATCH, TILE, TILE_FIT

if TYPE_CHECKING:
    pass

__all__ = ["Calibration", "CalibrationRule", "Disagreement", "Row", "SEARCHERS", "calibrate",
           "load", "searcher"]

#: Detail labels a row may carry: OpenAI's levels, Gemini's media resolutions, "auto".
DETAILS = ("low", "medium", "high", "ultra_high", "original", "auto")
#: Distinct rows the search looks at (every row is verified): bounds time and memory. Rows of
#: a log repeat a lot; beyond this many distinct ones, an even spread by size is taken.
SEARCH_ROWS = 400
#: Elements of one scan block (rows x parameter values): bounds the memory of a scan.
SCAN_BLOCK = 1 << 21
#: Most multipliers tried (the simplest first, spec 2: at most 4 decimal places).
MULTIPLIER_TRIES = 48
#: Multipliers searched in full (caps and budgets rescanned); the rest are checked at the
#: caps and budgets found.
FULL_TRIES = 3
DECIMALS = 10_000  # spec 2: a multiplier has at most 4 decimal places


class Row(tuple):  # type: ignore[type-arg]
    """One billed image: (width, height, detail, tokens)."""

    __slots__ = ()

    def __new__(cls, width: int, height: int, detail: str, tokens: int) -> "Row":
        return tuple.__new__(cls, (width, height, detail, tokens))

    width = property(lambda self: self[0])
    height = property(lambda self: self[1])
    detail = property(lambda self: self[2])
    tokens = property(lambda self: self[3])


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A row the fitted rule does not reproduce."""

    row: int  # index into the rows as given
    width: int
    height: int
    detail: str
    billed: int
    predicted: int | None  # None: the rule cannot count it (rejected)


@dataclass(frozen=True, slots=True)
class CalibrationRule:
    """A fitted rule: the scheme and its parameters, per detail level.

    Patch scheme (spec 3.1): ``details[level] = {"cap": C, "budget": B}`` (B 0 = none) and one
    ``multiplier``. Tile scheme (spec 3.2): ``base``, ``per_tile``, ``fit`` (the box every
    image first fits, 2048 for OpenAI's models) and ``short_side``; low detail costs ``base``.
    ``auto`` is the level "auto" stands for.

    Provider schemes: ``details[level]`` is ``{}`` for a level the scheme's
    parameters count, ``{"base": n}`` for a level billed a flat ``n``; a rule whose rows name
    no level has the one level ``"auto"``. ``claude``: ``max_edge``, ``max_tokens`` (28-px
    patches); ``mistral``: ``patch``, ``merge`` (only their product, the cell, shows in a
    bill), ``max_edge``; ``qwen``: ``patch`` (the factor), ``min_pixels``, ``max_pixels``,
    ``markers``; ``fixed``: ``base`` per level; ``gemini_tiles``: ``base`` for images whose
    sides are both at most ``short_side``, else ``per_tile`` per crop-unit tile, the unit
    clamped to ``unit_min``..``unit_max``.
    """

    scheme: str
    details: Mapping[str, Mapping[str, int]]
    auto: str
    multiplier: str | None = None
    base: int | None = None
    per_tile: int | None = None
    fit: int | None = None
    short_side: int | None = None
    max_edge: int | None = None
    max_tokens: int | None = None
    patch: int | None = None
    merge: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    markers: int | None = None
    unit_min: int | None = None
    unit_max: int | None = None

    @property
    def levels(self) -> tuple[str, ...]:
        """The detail levels the rule names ("auto" aside)."""
        return tuple(level for level in self.details if level != "auto")

    def level_of(self, detail: str) -> str:
        """The level a row's detail is counted at: "auto" is ``auto``; a rule without levels
        counts every row alike (the detail does not apply to it)."""
        if self.scheme not in ("patch", "tile") and not self.levels:
            return "auto"
        return self.auto if detail == "auto" else detail

    def register_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`visiontokens.register_model` for this rule."""
        if self.scheme == "patch":
            details = {level: {"cap": p["cap"], **({"budget": p["budget"]} if p["budget"] else {})}
                       for level, p in self.details.items()}
            return {"scheme": "patch", "multiplier": self.multiplier, "details": details,
                    "auto": self.auto}
        if self.scheme == "tile":
            return {"scheme": "tile", "base": self.base, "per_tile": self.per_tile,
                    "short_side": self.short_side, "fit": self.fit}
        if self.scheme == "gemini_tiles":
            raise InvalidArgumentError(
                "register_model has no gemini_tiles scheme: Gemini's tiles are counted by the "
                "shipped Gemini models only (their parameters are Google's)")
        if self.scheme not in _PROVIDER_FIELDS:
            raise InvalidArgumentError(f"no registration for scheme {self.scheme!r}")
        if self.levels:
            raise InvalidArgumentError(
                f"register_model registers {self.scheme} models without detail levels, and "
                f"this rule has levels {', '.join(self.levels)}")
        if self.scheme == "qwen" and self.markers != QWEN_MARKERS:
            raise InvalidArgumentError(
                f"register_model counts {QWEN_MARKERS} marker tokens per Qwen image, and this "
                f"rule counts {self.markers}")
        out: dict[str, Any] = {"scheme": self.scheme}
        for key, name in _PROVIDER_FIELDS[self.scheme]:
            out[key] = getattr(self, name)
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scheme": self.scheme, "auto": self.auto,
                               "details": {k: dict(v) for k, v in self.details.items()}}
        for key in ("multiplier", "base", "per_tile", "fit", "short_side", "max_edge",
                    "max_tokens", "patch", "merge", "min_pixels", "max_pixels", "markers",
                    "unit_min", "unit_max"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def describe(self) -> str:
        if self.scheme == "patch":
            parts = [f"{level}: cap {p['cap']}" + (f", budget {p['budget']}" if p["budget"] else "")
                     for level, p in self.details.items()]
            return f"patch scheme, multiplier {self.multiplier}; " + "; ".join(parts)
        if self.scheme == "tile":
            return (f"tile scheme, base {self.base}, {self.per_tile} per tile, fit {self.fit}, "
                    f"shortest side {self.short_side}; levels {', '.join(self.details)}")
        flat = [f"{level}: {p['base']} per image" for level, p in self.details.items()
                if "base" in p and (self.scheme != "fixed" or self.levels)]
        if self.scheme == "claude":
            text = f"claude scheme, max edge {self.max_edge}, max tokens {self.max_tokens}"
        elif self.scheme == "mistral":
            text = (f"mistral scheme, patch {self.patch} x merge {self.merge} (cell "
                    f"{(self.patch or 0) * (self.merge or 0)}), max edge {self.max_edge}")
        elif self.scheme == "qwen":
            text = (f"qwen scheme, factor {self.patch}, min pixels {self.min_pixels}, max "
                    f"pixels {self.max_pixels}, {self.markers} marker tokens")
        elif self.scheme == "gemini_tiles":
            text = (f"gemini_tiles scheme, {self.base} up to {self.short_side} px a side, else "
                    f"{self.per_tile} per tile, crop unit {self.unit_min}..{self.unit_max}")
        elif self.scheme == "fixed" and not self.levels:
            text = f"fixed scheme, {self.base} per image"
        else:
            text = f"{self.scheme} scheme"
        return "; ".join([text] + flat) + (f"; auto is {self.auto}" if self.levels else "")

    def model(self) -> Any:
        """A :class:`visiontokens.Model` counting with this rule (no registration, no
        30,000-patch rejection): the library's own kernel, for verification."""
        from types import MappingProxyType

        from . import Model
        from .rules import get_ruleset
        from .rules.register import _new_spec, _provider_spec
        from .rules.specs import ModelSpec

        rs = get_ruleset(None)
        if self.scheme in ("patch", "tile"):
            spec = _new_spec("calibrated", rs, self.scheme, self.multiplier,
                             None if self.scheme != "patch" else
                             self.register_kwargs()["details"], self.auto,
                             self.base, self.per_tile,
                             self.short_side if self.short_side is not None else 768,
                             self.fit if self.fit is not None else TILE_FIT)
            params = {level: replace(p, reject_over=0) for level, p in spec.params.items()}
            return Model(replace(spec, params=MappingProxyType(params)))
        if not self.levels and self.scheme in _PROVIDER_FIELDS and (
                self.scheme != "qwen" or self.markers == QWEN_MARKERS):
            # validated as register_model validates: a rule it refuses is no candidate
            kwargs = self.register_kwargs()
            given = {key: kwargs.get(key) for key in ("patch", "merge", "max_edge", "max_tokens",
                                                      "min_pixels", "max_pixels")}
            return Model(_provider_spec("calibrated", rs, self.scheme, kwargs.get("base"), given))
        params = {level: self._params("auto" if level == "auto" else level, p.get("base"))
                  for level, p in self.details.items()}
        return Model(ModelSpec(id="calibrated", ruleset=rs.name, scheme=self.scheme,
                               params=MappingProxyType(params), auto=self.auto, multiplier=None,
                               status="registered", source="calibrate()", provider="registered",
                               levels=self.levels))

    def _params(self, level: str, flat: int | None) -> Any:
        """One level's kernel parameters (checked: a value the kernels do not take is an
        InvalidArgumentError, so the rule is no candidate)."""
        from .rules.register import _checked_int
        from .rules.specs import DetailParams

        common: dict[str, Any] = dict(level=level, mult_num=1, mult_den=1, reject_over=0,
                                      fidelity_square=0, fidelity_other=0, budget=0)
        top = 2**31 - 1
        if flat is not None or self.scheme == "fixed":
            return DetailParams(scheme="fixed", cap=0, short_side=0, per_tile=0,
                                base=_checked_int("base", flat, 0, MAX_TOKENS_PARAM), **common)
        if self.scheme == "gemini_tiles":
            return DetailParams(scheme="gemini_tiles", cap=0,
                                short_side=_checked_int("short_side", self.short_side, 0, top),
                                base=_checked_int("base", self.base, 0, MAX_TOKENS_PARAM),
                                per_tile=_checked_int("per_tile", self.per_tile, 0, MAX_TOKENS_PARAM),
                                lo=_checked_int("unit_min", self.unit_min, 1, top),
                                hi=_checked_int("unit_max", self.unit_max,
                                                self.unit_min or 1, top), **common)
        if self.scheme == "claude":
            common["budget"] = _checked_int("max_tokens", self.max_tokens, 1, top)
            return DetailParams(scheme="claude", cap=_checked_int("max_edge", self.max_edge, 28, top),
                                short_side=0, base=0, per_tile=0, patch=CLAUDE_PATCH, **common)
        if self.scheme == "mistral":
            return DetailParams(scheme="mistral", cap=_checked_int("max_edge", self.max_edge, 1, top),
                                short_side=0, base=0, per_tile=0,
                                patch=_checked_int("patch", self.patch, 1, 1024),
                                merge=_checked_int("merge", self.merge, 1, 16), **common)
        if self.scheme == "qwen":
            return DetailParams(scheme="qwen", cap=0, short_side=0, base=0, per_tile=0,
                                patch=_checked_int("patch", self.patch, 1, 1024),
                                lo=_checked_int("min_pixels", self.min_pixels, 1, top),
                                hi=_checked_int("max_pixels", self.max_pixels, 1, top),
                                markers=_checked_int("markers", self.markers, 0, 1024), **common)
        raise InvalidArgumentError(f"no kernel for scheme {self.scheme!r}")


#: register_model's keyword and the rule's field, per provider scheme it registers.
_PROVIDER_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "claude": (("max_edge", "max_edge"), ("max_tokens", "max_tokens")),
    "mistral": (("patch", "patch"), ("max_edge", "max_edge"), ("merge", "merge")),
    "qwen": (("patch", "patch"), ("min_pixels", "min_pixels"), ("max_pixels", "max_pixels")),
    "fixed": (("base", "base"),),
}
CLAUDE_PATCH = 28  # providers 1.1: one 28 x 28 patch is one visual token
QWEN_MARKERS = 2  # providers 4.1 step 6: <|vision_start|> and <|vision_end|>, as registered


# --- the numpy evaluators the search scans with (spec 3, the exact integer form) -----------
# Tested equal to the library's kernels (tests/test_calibrate.py); the search only proposes,
# and every reported rule is verified with the kernels themselves.

def _cdiv(a: Any, b: Any) -> Any:
    return -(-a // b)


def _isqrt(x: Any) -> Any:
    import numpy as np

    r = np.floor(np.sqrt(x.astype(np.float64))).astype(np.int64)
    r = np.where(r * r > x, r - 1, r)
    return np.where((r + 1) * (r + 1) <= x, r + 1, r)


def _fit(w: Any, h: Any, box: Any) -> tuple[Any, Any]:
    """spec 3.1 step 1 / 3.2 step 1: shrink into box x box, the short side rounded half up."""
    import numpy as np

    wide = w >= h
    long, short = np.where(wide, w, h), np.where(wide, h, w)
    over = long > box
    fitted = np.maximum((2 * short * box + long) // (2 * long), 1)
    return (np.where(over & wide, box, np.where(over, fitted, w)),
            np.where(over & wide, fitted, np.where(over, box, h)))


def _patches(w: Any, h: Any, cap: Any, budget: Any) -> Any:
    """Patches after the size cap and the budget (spec 3.1 steps 1-3); budget 0 = none."""
    import numpy as np

    w, h = _fit(w, h, cap)
    p = _cdiv(w, PATCH) * _cdiv(h, PATCH)
    p, w, h, b = np.broadcast_arrays(p, w, h, np.asarray(budget, dtype=np.int64))
    need = (b > 0) & (p > b)
    if not need.any():
        return p
    bs = np.where(need, b, 1)
    kw, kh = _isqrt(bs * w // h), _isqrt(bs * h // w)
    first = kw * h <= kh * w
    w2 = np.maximum(np.where(first, PATCH * kw, (PATCH * kh * w) // h), 1)
    h2 = np.maximum(np.where(first, (PATCH * kw * h) // w, PATCH * kh), 1)
    return np.where(need, np.minimum(_cdiv(w2, PATCH) * _cdiv(h2, PATCH), bs), p)


def _tiles(w: Any, h: Any, fit: Any, short_side: Any) -> Any:
    """Tiles after the fit box and the shortest side (spec 3.2 steps 1-3)."""
    import numpy as np

    w, h = _fit(w, h, fit)
    over = np.minimum(w, h) > short_side
    tall = w <= h
    w2 = np.where(over, np.where(tall, short_side, (w * short_side) // np.maximum(h, 1)), w)
    h2 = np.where(over, np.where(tall, (h * short_side) // np.maximum(w, 1), short_side), h)
    return _cdiv(w2, TILE) * _cdiv(h2, TILE)


def predict(rule: CalibrationRule, widths: Any, heights: Any, detail: str) -> Any:
    """Tokens of ``rule`` for arrays of sizes at one detail (the search's evaluator)."""
    import numpy as np

    w = np.asarray(widths, dtype=np.int64)
    h = np.asarray(heights, dtype=np.int64)
    level = rule.level_of(detail)
    if rule.scheme not in ("patch", "tile"):
        flat = rule.details[level].get("base")  # a level the rule lacks: KeyError
        if flat is not None or rule.scheme == "fixed":
            return np.full(w.shape, rule.base if flat is None else flat, dtype=np.int64)
        if rule.scheme == "claude":
            return _claude(w, h, rule.max_edge, rule.max_tokens)
        if rule.scheme == "mistral":
            return _mistral(w, h, rule.max_edge, (rule.patch or 0) * (rule.merge or 0))
        if rule.scheme == "qwen":
            return _qwen(w, h, rule.patch, rule.min_pixels, rule.max_pixels, rule.markers)
        return _gemini(w, h, rule.short_side, rule.base, rule.per_tile, rule.unit_min,
                       rule.unit_max)
    if rule.scheme == "patch":
        p = rule.details[level]
        num, den = _fraction(rule.multiplier or "1")
        return _cdiv(_patches(w, h, p["cap"], p["budget"]) * num, den)
    assert rule.base is not None and rule.per_tile is not None
    if level == "low":
        return np.full(w.shape, rule.base, dtype=np.int64)
    return rule.base + _tiles(w, h, rule.fit, rule.short_side) * rule.per_tile


# The provider schemes (providers.md), in integers where the vendor's rule is integer and in
# binary64 where the vendor's own code computes in floats: numpy's float64 operations are
# IEEE's, correctly rounded, as the vendors' Python floats are.

def _round_half_even(num: Any, den: Any) -> Any:
    """round(num / den), ties to even, in integers (num >= 0, den > 0)."""
    q, r = num // den, num % den
    return q + ((2 * r > den) | ((2 * r == den) & (q % 2 == 1)))


def _claude(w: Any, h: Any, max_edge: Any, max_tokens: Any) -> Any:
    """providers 1.1 steps 2-6: the docs' bisection of the long edge, run on whole arrays."""
    import numpy as np

    w, h, cap, budget = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64)
                                              for a in (w, h, max_edge, max_tokens)))
    patch = CLAUDE_PATCH

    def fits(x: Any, y: Any) -> Any:  # step 2: the padded edges, then the patch count
        cx, cy = _cdiv(x, patch), _cdiv(y, patch)
        return (cx * patch <= cap) & (cy * patch <= cap) & (cx * cy <= budget)

    ok = fits(w, h)  # step 3
    tokens = _cdiv(w, patch) * _cdiv(h, patch)
    if ok.all():
        return tokens
    long, short = np.maximum(w, h), np.minimum(w, h)  # step 4: the long edge, either way

    def short_of(mid: Any) -> Any:  # step 5: round half to even, at least 1
        return np.maximum(_round_half_even(mid * short, long), 1)

    lo, hi = np.ones_like(long), np.where(ok, 1, long)
    while True:
        step = lo + 1 < hi
        if not step.any():
            break
        mid = (lo + hi) // 2
        good = fits(mid, short_of(mid))
        lo, hi = np.where(step & good, mid, lo), np.where(step & ~good, mid, hi)
    return np.where(ok, tokens, _cdiv(lo, patch) * _cdiv(short_of(lo), patch))  # step 6


def _mistral_resized(w: Any, h: Any, max_edge: Any) -> tuple[Any, Any]:
    """providers 3.1 steps 1-2: ratio = max(w / max, h / max) in binary64; above 1, each
    side becomes max(round(side / ratio), 1), half to even on the double."""
    import numpy as np

    w, h, cap = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (w, h, max_edge)))
    ratio = np.maximum(w / cap, h / cap)
    over = ratio > 1
    safe = np.where(over, ratio, 1.0)
    return (np.where(over, np.maximum(np.rint(w / safe), 1), w).astype(np.int64),
            np.where(over, np.maximum(np.rint(h / safe), 1), h).astype(np.int64))


def _mistral(w: Any, h: Any, max_edge: Any, cell: Any) -> Any:
    """providers 3.1 steps 3-6: rows x (cols + 1) cells of patch x merge pixels."""
    w, h = _mistral_resized(w, h, max_edge)
    return ((h - 1) // cell + 1) * ((w - 1) // cell + 2)


def _qwen_grid(w: Any, h: Any, f: Any) -> tuple[Any, Any, Any]:
    """providers 4.1 step 2: each side rounded (half to even) to a multiple of the factor."""
    hb, wb = _round_half_even(h, f) * f, _round_half_even(w, f) * f
    return hb, wb, hb * wb


def _qwen_shrunk(w: Any, h: Any, f: Any, max_pixels: Any) -> Any:
    """providers 4.1 step 3: tokens of an image shrunk under max_pixels (floats as the
    vendor's: beta = sqrt(h w / max), side = max(f, floor(side / beta / f) f))."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = np.sqrt((h * w).astype(np.float64) / max_pixels)
        hs = np.maximum(f, np.floor(h / beta / f).astype(np.int64) * f)
        ws = np.maximum(f, np.floor(w / beta / f).astype(np.int64) * f)
    return (hs // f) * (ws // f)


def _qwen_grown(w: Any, h: Any, f: Any, min_pixels: Any) -> Any:
    """providers 4.1 step 4: tokens of an image grown over min_pixels (ceil(side beta / f) f)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = np.sqrt(min_pixels / (h * w).astype(np.float64))
        hg = np.ceil(h * beta / f).astype(np.int64)
        wg = np.ceil(w * beta / f).astype(np.int64)
    return hg * wg


def _qwen(w: Any, h: Any, factor: Any, min_pixels: Any, max_pixels: Any, markers: Any) -> Any:
    """providers 4.1 (transformers' smart_resize): tokens plus the marker tokens; -1 where
    the aspect ratio exceeds 200 (step 1: refused)."""
    import numpy as np

    w, h, f, lo, hi = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64)
                                            for a in (w, h, factor, min_pixels, max_pixels)))
    hb, wb, area = _qwen_grid(w, h, f)
    shrink = area > hi
    grow = ~shrink & (area < lo)
    tokens = np.where(shrink, _qwen_shrunk(w, h, f, hi),
                      np.where(grow, _qwen_grown(w, h, f, lo), (hb // f) * (wb // f)))
    return np.where(np.maximum(w, h) > 200 * np.minimum(w, h), -1, tokens + markers)


def _gemini(w: Any, h: Any, small: Any, base: Any, per_tile: Any, unit_min: Any,
            unit_max: Any) -> Any:
    """providers 2.1 steps 1-5: ``base`` when both sides are at most ``small``; else the crop
    unit floor(min / 1.5) clamped to unit_min..unit_max, and per_tile per unit tile."""
    import numpy as np

    unit = np.maximum(np.minimum(np.maximum(2 * np.minimum(w, h) // 3, unit_min), unit_max), 1)
    tiles = _cdiv(w, unit) * _cdiv(h, unit)
    return np.where((w <= small) & (h <= small), base, tiles * per_tile)


def _fraction(text: str) -> tuple[int, int]:
    whole, _, decimals = text.partition(".")
    return int(whole + decimals), 10 ** len(decimals)


def _decimal(k: int) -> str:
    """k / 10**4 as the shortest decimal string: 12000 -> "1.2"."""
    whole, frac = divmod(k, DECIMALS)
    text = f"{frac:04d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


# --- rows ------------------------------------------------------------------------------------

_TOKEN_KEYS = ("tokens", "billed", "image_tokens", "billed_image_tokens")


def _int(value: object, what: str, row: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("+").isdigit():
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ArgumentTypeError(f"row {row}: {what} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidArgumentError(f"row {row}: {what} must be between {low} and {high}, got {value}")
    return int(value)


def _row(item: object, index: int) -> Row:
    if isinstance(item, Mapping):
        token_key = next((k for k in _TOKEN_KEYS if k in item), None)
        if token_key is None or "width" not in item or "height" not in item:
            raise InvalidArgumentError(
                f"row {index}: needs width, height and tokens (or billed, image_tokens), got "
                f"keys {sorted(map(str, item))[:8]}")
        values: Sequence[object] = (item["width"], item["height"], item.get("detail", "auto"),
                                    item[token_key])
    elif isinstance(item, (tuple, list)) and len(item) in (3, 4):
        values = item if len(item) == 4 else (item[0], item[1], "auto", item[2])
    else:
        raise ArgumentTypeError(f"row {index}: expected (width, height, detail, tokens) or a "
                                f"mapping, got {type(item).__name__}")
    detail = "auto" if values[2] is None or values[2] == "" else values[2]
    if detail not in DETAILS:
        raise InvalidArgumentError(f"row {index}: detail must be one of {', '.join(DETAILS)}, "
                                   f"got {detail!r}")
    return Row(_int(values[0], "width", index, 1, MAX_DIMENSION),
               _int(values[1], "height", index, 1, MAX_DIMENSION), str(detail),
               _int(values[3], "tokens", index, 0, 2**62))


def rows_from(items: Iterable[object]) -> list[Row]:
    """Rows checked and typed; a bad one is an error naming its index."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise ArgumentTypeError(f"rows must be an iterable of rows, got {type(items).__name__}")
    rows = [_row(item, i) for i, item in enumerate(items)]
    if not rows:
        raise InvalidArgumentError("calibrate needs at least one row")
    return rows


def _by_short(group: "_Group", short: Any) -> "_Group":
    """The group with ``long`` standing for the short side (after the fit box): what a
    shortest-side scan compares its values with."""
    out = _Group.__new__(_Group)
    out.__dict__.update(group.__dict__)
    out.long = short
    return out


class _Group:
    """The distinct rows of one detail label as arrays (weights: how often each repeats)."""

    def __init__(self, detail: str, rows: Sequence[Row]):
        import numpy as np

        counted: dict[tuple[int, int, int], int] = {}
        for r in rows:
            key = (min(r.width, 2**40), min(r.height, 2**40), r.tokens)
            counted[key] = counted.get(key, 0) + 1
        keys = sorted(counted, key=lambda k: (k[0] * k[1], k))
        if len(keys) > SEARCH_ROWS:  # an even spread by area, ends included
            step = (len(keys) - 1) / (SEARCH_ROWS - 1)
            keys = [keys[round(i * step)] for i in range(SEARCH_ROWS)]
        self.detail = detail
        self.w = np.array([k[0] for k in keys], dtype=np.int64)
        self.h = np.array([k[1] for k in keys], dtype=np.int64)
        self.t = np.array([k[2] for k in keys], dtype=np.int64)
        self.weight = np.array([counted[k] for k in keys], dtype=np.int64)
        self.long = np.maximum(self.w, self.h)
        self.short = np.minimum(self.w, self.h)

    @classmethod
    def merged(cls, groups: Sequence["_Group"]) -> "_Group":
        import numpy as np

        out = cls.__new__(cls)
        out.detail = "high"
        for name in ("w", "h", "t", "weight", "long", "short"):
            setattr(out, name, np.concatenate([getattr(g, name) for g in groups]))
        return out

    def score(self, ok: Any) -> Any:
        """Rows reproduced, counting repeats: ``ok`` is (..., rows) of bool."""
        return (ok * self.weight).sum(axis=-1)


def _scan(group: _Group, values: Any, evaluate: Callable[[Any], Any]) -> Any:
    """Score of every parameter value: ``evaluate(values[:, None])`` -> (values, rows) bool,
    in blocks of SCAN_BLOCK elements."""
    import numpy as np

    n = max(len(group.w), 1)
    block = max(1, SCAN_BLOCK // n)
    out = np.empty(len(values), dtype=np.int64)
    for start in range(0, len(values), block):
        chunk = values[start:start + block, None]
        out[start:start + block] = group.score(evaluate(chunk))
    return out


def _scan_from(group: _Group, top: int, evaluate: Callable[[Any, Any], Any]) -> tuple[Any, Any]:
    """(values, scores) of a size parameter (a cap, a fit box, a shortest side) over 1..top,
    where ``top`` stands for every value at or above it. ``evaluate(values, rows)`` gives
    (values, rows) of bool: which of the rows (an index array) a value reproduces.

    The rows that ``top`` already reproduces would mostly break below their own long side,
    so the scan starts at the longest of them; unless that explains every row, it scans
    the whole range too (a row can be right at ``top`` by coincidence). Rows no value of the
    range changes (long side at or under its start) are evaluated once."""
    import numpy as np

    everyone = np.arange(len(group.w))
    at_top = evaluate(np.array([[top]], dtype=np.int64), everyone)[0]
    sides = group.long[at_top]
    start = int(min(sides.max(), top)) if len(sides) else 1
    for low in ((start, 1) if start > 1 else (1,)):
        values = np.arange(low, top + 1, dtype=np.int64)
        fixed = group.long <= low
        base = int((at_top & fixed) @ group.weight)
        rows = np.flatnonzero(~fixed)
        n = max(len(rows), 1)
        block = max(1, SCAN_BLOCK // n)
        scores = np.full(len(values), base, dtype=np.int64)
        if len(rows):
            weight = group.weight[rows]
            for i in range(0, len(values), block):
                chunk = values[i:i + block, None]
                scores[i:i + block] += evaluate(chunk, rows) @ weight
        if scores.max() >= int(group.weight.sum()):
            break
    return values, scores


def _ranges(values: Any, mask: Any) -> list[tuple[int, int]]:
    """Runs of True in ``mask`` as (first, last) of ``values`` (consecutive integers)."""
    import numpy as np

    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(values[s]), int(values[e])) for s, e in zip(starts, ends)]


@functools.lru_cache(maxsize=None)
def _prior(name: str) -> list[int]:
    """Values of a parameter the shipped models use, most common first: the pick within a
    range the rows leave open (any value in it reproduces them equally)."""
    from . import models, rulesets

    counts: dict[int, int] = {}
    for rs in rulesets():
        for spec in models(rs):
            for p in spec.params.values():
                value = {"cap": p.cap if p.scheme == "patch" else 0,
                         "budget": p.budget if p.scheme == "patch" else 0,
                         "fit": p.cap if p.scheme != "patch" else 0,
                         "short_side": p.short_side if p.scheme != "patch" else 0}[name]
                if value:
                    counts[value] = counts.get(value, 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))


def _pick(ranges: Sequence[tuple[int, int]], prior: Sequence[int]) -> int:
    for value in prior:
        for lo, hi in ranges:
            if lo <= value <= hi:
                return value
    return ranges[0][0]


# --- searchers: one per scheme ---------------------------------------------------------------

@dataclass
class SchemeFit:
    """What a searcher found: its best rule, the rows that rule reproduces (weighted
    score), the parameters the rows leave open, and the rules at their ends."""

    rule: CalibrationRule
    score: int
    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    alternatives: list[CalibrationRule] = field(default_factory=list)
    multipliers: list[str] = field(default_factory=list)


Searcher = Callable[[Mapping[str, _Group]], "SchemeFit | None"]
#: scheme name -> searcher. A searcher takes the rows grouped by detail label and returns its
#: best fit (or None when the rows do not have its structure at all).
SEARCHERS: dict[str, Searcher] = {}


def searcher(name: str) -> Callable[[Searcher], Searcher]:
    """Register a scheme's searcher: ``@searcher("mistral")`` over a function of the groups."""
    def add(function: Searcher) -> Searcher:
        SEARCHERS[name] = function
        return function
    return add


def _multiplier_candidates(groups: Mapping[str, _Group]) -> list[int]:
    """Multipliers (as k / 10**4) the rows allow, most likely first (spec 3.1 step 5).

    A row that is not resized bills ceil(P0 * m) for its raw patch count P0, so m lies in
    ((t - 1) / P0, t / P0]; rows that are resized give lower intervals, each its own. The
    value the most rows agree on is the unresized rows' common interval: a sweep over the
    intervals' ends finds it, without assuming which rows were resized."""
    import numpy as np

    ws = np.concatenate([g.w for g in groups.values()])
    hs = np.concatenate([g.h for g in groups.values()])
    ts = np.minimum(np.concatenate([g.t for g in groups.values()]), PATCH_TOKENS_TOP)
    weights = np.concatenate([g.weight for g in groups.values()])
    p0 = _cdiv(np.minimum(ws, MAX_CAP * 64), PATCH) * _cdiv(np.minimum(hs, MAX_CAP * 64), PATCH)
    lo = (np.maximum(ts - 1, 0) * DECIMALS) // p0 + 1
    hi = (ts * DECIMALS) // p0
    hi = np.minimum(hi, MAX_MULTIPLIER * DECIMALS)
    keep = (ts > 0) & (lo <= hi)
    if not keep.any():
        return []
    events: dict[int, int] = {}
    for a, b, wgt in zip(lo[keep].tolist(), hi[keep].tolist(), weights[keep].tolist()):
        events[a] = events.get(a, 0) + wgt
        events[b + 1] = events.get(b + 1, 0) - wgt
    level, regions = 0, []
    points = sorted(events)
    for here, nxt in zip(points, points[1:]):
        level += events[here]
        if level > 0:
            regions.append((level, here, nxt - 1))
    regions.sort(key=lambda r: -r[0])
    best = regions[0][0]
    out: list[int] = []
    for level, a, b in regions:
        if level < best and len(out) >= 4:
            break
        ks = range(a, b + 1) if b - a < 4 * MULTIPLIER_TRIES else (
            sorted({k for step in (DECIMALS, 1000, 100, 10) for k in
                    range(-(-a // step) * step, b + 1, step)} | {a, b}))
        out.extend(sorted(ks, key=lambda k: (len(_decimal(k)), abs(k - (a + b) / 2))))
    return out[:MULTIPLIER_TRIES]


#: Billed counts above this are no patch model's (at most 2048^2 patches, multiplier <= 1000):
#: the search's patch-count windows clip there, so their products stay inside int64.
PATCH_TOKENS_TOP = 2**40


def _patch_level(group: _Group, num: int, den: int) -> tuple[int, int, int, Any, Any]:
    """The best (score, cap, budget) of one detail group at multiplier num/den, and the caps
    (at that budget) and budgets (at that cap) that score as well.

    Coordinate search: the cap that explains the most rows with no budget, then the budget
    that explains the most at that cap, then the cap again at that budget, until stable.
    Each step scans one parameter over its whole useful range (caps up to the longest side
    seen, budgets in the window the billed patch counts allow)."""
    import numpy as np

    # The patch counts each row allows: ceil(P * num / den) == t.
    t = np.minimum(group.t, PATCH_TOKENS_TOP)  # in int64 after the multiplier's denominator
    plo = ((t - 1) * den) // num + 1
    phi = (t * den) // num
    top = int(min(group.long.max(), MAX_CAP))  # `top` stands for every cap >= top

    def ok(p: Any) -> Any:
        return (p >= plo) & (p <= phi)

    def cap_scores(budget: int) -> tuple[Any, Any]:
        return _scan_from(group, top, lambda c, i: (
            lambda p: (p >= plo[i]) & (p <= phi[i]))(_patches(group.w[i], group.h[i], c, budget)))

    def budget_window(cap: int) -> Any:
        pc = _patches(group.w, group.h, cap, 0)
        need = pc > phi
        if not need.any():
            return np.zeros(1, dtype=np.int64)
        low = int(max(1, plo[need].min()))
        high = int(phi[need].max())
        high = min(high + 3 * math.isqrt(high) + 64, low + 200_000, MAX_BUDGET)
        return np.concatenate([[0], np.arange(low, high + 1, dtype=np.int64)])

    budget, cap = 0, top
    seen: set[tuple[int, int]] = set()
    cap_ok = budgets = scores_b = None
    for _ in range(4):
        caps, scores_c = cap_scores(budget)
        cap_ok = scores_c == scores_c.max()
        cap = _pick(_ranges(caps, cap_ok), _prior("cap") + [top])
        budgets = budget_window(cap)
        scores_b = _scan(group, budgets, lambda b: ok(_patches(group.w, group.h, cap, b)))
        best_b = budgets[scores_b == scores_b.max()]
        if 0 in best_b.tolist():
            budget = 0
        else:
            budget = _pick(_ranges(budgets, np.isin(budgets, best_b)), _prior("budget"))
        if (cap, budget) in seen:
            break
        seen.add((cap, budget))
    score = int(group.score(ok(_patches(group.w, group.h, cap, budget))))
    caps, cap_scores_final = cap_scores(budget)
    assert budgets is not None and scores_b is not None
    return score, cap, budget, (caps, cap_scores_final == score), (budgets, scores_b == score)


@searcher("patch")
def search_patch(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """spec 3.1: tokens = ceil(patches x m), patches after a size cap and a patch budget,
    per detail level; one multiplier for the model."""

    candidates = _multiplier_candidates(groups)
    if not candidates:
        return None
    results: list[tuple[int, int, dict[str, Any], str | None]] = []
    everything = sum(int(g.weight.sum()) for g in groups.values())
    for k in candidates[:FULL_TRIES]:
        g = math.gcd(k, DECIMALS)
        num, den = k // g, DECIMALS // g
        levels = {d: _patch_level(group, num, den) for d, group in groups.items()}
        auto = _auto_level(groups, levels, num, den)
        results.append((sum(v[0] for v in levels.values()), k, levels, auto))
        if results[-1][0] == everything:
            break
    # The other multipliers the rows allow, at the caps and budgets just found: a tie is a
    # multiplier the rows cannot tell from the first (no rescan needed to know).
    score, k0, levels0, auto0 = max(results, key=lambda r: r[0])
    for k in candidates:
        if k in {r[1] for r in results}:
            continue
        g = math.gcd(k, DECIMALS)
        num, den = k // g, DECIMALS // g
        total = 0
        for d, group in groups.items():
            p = _patches(group.w, group.h, levels0[d][1], levels0[d][2])
            total += int(group.score(_cdiv(p * num, den) == group.t))
        if total == score:
            results.append((score, k, levels0, auto0))
    best = max(r[0] for r in results)
    tied = [r for r in results if r[0] == best]
    total, k, levels, auto = tied[0]  # candidates come simplest first

    def rule_of(k: int, levels: Mapping[str, Any], auto: str | None,
                change: tuple[str, str, int] | None = None) -> CalibrationRule:
        params = {d: (v[1], v[2]) for d, v in levels.items() if d != "auto" or auto is None}
        if change is not None:
            d, name, value = change
            c, b = params[d]
            params[d] = (value, b) if name == "cap" else (c, value)
        return _patch_rule(_decimal(k), params, auto)

    fit = SchemeFit(rule_of(k, levels, auto), total, multipliers=[_decimal(r[1]) for r in tied])
    for d, (_score, cap, budget, (caps, cap_ok), (budgets, budget_ok)) in levels.items():
        if d == "auto" and auto is not None:
            continue
        top = int(min(groups[d].long.max(), MAX_CAP))
        cap_ranges = _ranges(caps, cap_ok)
        cap_ranges = [(lo, MAX_CAP if hi == top else hi) for lo, hi in cap_ranges]
        fit.ranges[f"{d}.cap"] = cap_ranges
        if budget == 0 or 0 in budgets[budget_ok].tolist():
            # no budget needed: any budget at or above the most patches a row has is the same
            most = int(_patches(groups[d].w, groups[d].h, cap, 0).max())
            fit.ranges[f"{d}.budget"] = [(most, MAX_BUDGET)]
        else:
            fit.ranges[f"{d}.budget"] = _ranges(budgets, budget_ok & (budgets > 0))
        for name in ("cap", "budget"):
            for lo, hi in fit.ranges[f"{d}.{name}"]:
                for value in (lo, hi):
                    value = 0 if name == "budget" and value == MAX_BUDGET else value
                    try:
                        fit.alternatives.append(rule_of(k, levels, auto, (d, name, value)))
                    except InvalidArgumentError:
                        pass
    for r in tied[1:]:
        try:
            fit.alternatives.append(rule_of(r[1], r[2], r[3]))
        except InvalidArgumentError:
            pass
    return fit


def _auto_level(groups: Mapping[str, _Group], levels: Mapping[str, Any], num: int,
                den: int) -> str | None:
    """The level the "auto" rows are billed as: the first whose fitted cap and budget
    reproduce them as well as their own fit does (spec 3.4: auto is an alias, per model)."""
    import numpy as np

    if "auto" not in groups:
        return None
    group = groups["auto"]
    own = levels["auto"][0]
    t = np.minimum(group.t, PATCH_TOKENS_TOP)  # in int64 after the multiplier's denominator
    plo = ((t - 1) * den) // num + 1
    phi = (t * den) // num
    for d in ("original", "high", "low"):
        if d in levels:
            p = _patches(group.w, group.h, levels[d][1], levels[d][2])
            if int(group.score((p >= plo) & (p <= phi))) >= own:
                return d
    return None


def _patch_rule(multiplier: str, params: Mapping[str, tuple[int, int]],
                auto: str | None) -> CalibrationRule:
    """A patch rule from (cap, budget) per detail label; ``auto``: the level "auto" rows
    are billed as, or None when they have parameters of their own (or there are none)."""
    details = {d: {"cap": c, "budget": b} for d, (c, b) in params.items() if d != "auto"}
    if auto is None and "auto" in params:
        # "auto" rows billed like no level given: they get the first free level
        free = next((d for d in ("high", "original", "low") if d not in details), None)
        if free is None:
            raise InvalidArgumentError("the 'auto' rows fit the parameters of no detail level "
                                       "given, and every level is taken")
        details[free] = {"cap": params["auto"][0], "budget": params["auto"][1]}
        auto = free
    ordered = {d: details[d] for d in LEVELS if d in details}
    if not ordered:  # Gemini's levels only (medium, ultra_high): no patch model has them
        raise InvalidArgumentError("the patch scheme has the detail levels low, high and original")
    if auto is None or auto not in ordered:
        auto = "high" if "high" in ordered else next(iter(ordered))
    return CalibrationRule("patch", ordered, auto, multiplier=multiplier)


def _mode(values: Iterable[int]) -> list[int]:
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))


@searcher("tile")
def search_tile(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """spec 3.2: tokens = base + tiles x per_tile after a fit box and a shortest side; low
    detail costs the base. The structure gives base and per-tile cost first: low rows are
    one constant, and differences of billed tokens are multiples of the per-tile cost."""
    import numpy as np

    tiled = [g for d, g in groups.items() if d != "low"]
    low = groups.get("low")
    everything = sum(int(g.weight.sum()) for g in groups.values())
    base_guess = _mode(low.t.tolist())[:2] if low is not None else []
    if not tiled:
        if not base_guess:
            return None
        # Only low rows: the base is all they tell; the tile costs stay open.
        rule = CalibrationRule("tile", {"low": {}}, "low", base=base_guess[0], per_tile=0,
                               fit=TILE_FIT, short_side=768)
        return SchemeFit(rule, int(low.score(low.t == base_guess[0])) if low else 0,
                         ranges={"per_tile": [(0, MAX_TOKENS_PARAM)]})
    w = np.concatenate([g.w for g in tiled])
    h = np.concatenate([g.h for g in tiled])
    t = np.concatenate([g.t for g in tiled])
    # Rows small enough that no fit box or shortest side >= 512 changes them.
    small = (np.maximum(w, h) <= TILE_FIT) & (np.minimum(w, h) <= TILE)
    if small.sum() < 2:
        small = np.ones(len(w), dtype=bool)
    raw = (_cdiv(w, TILE) * _cdiv(h, TILE))[small]
    ts = t[small]
    per_tile: list[int] = []
    order = np.argsort(raw, kind="stable")
    raw, ts = raw[order], ts[order]
    diffs = [int((ts[j] - ts[i]) // (raw[j] - raw[i])) for i in range(len(raw))
             for j in range(i + 1, min(len(raw), i + 8))
             if raw[j] != raw[i] and (ts[j] - ts[i]) % (raw[j] - raw[i]) == 0 and ts[j] > ts[i]]
    per_tile = _mode(diffs)[:3]
    for base in base_guess:
        per_tile += [q for q in _mode(int((x - base) // n) for x, n in zip(ts.tolist(), raw.tolist())
                                      if x > base and (x - base) % n == 0)[:2] if q not in per_tile]
    if not per_tile:
        return None
    best: SchemeFit | None = None
    for pt in per_tile:
        bases = list(base_guess) + [b for b in _mode((ts - raw * pt).tolist())[:2]
                                    if b >= 0 and b not in base_guess]
        for base in bases:
            fit = _tile_fit(groups, base, pt)
            if fit is not None and (best is None or fit.score > best.score):
                best = fit
            if best is not None and best.score == everything:
                return best  # every row reproduced: no other costs to try
    return best


def _tile_fit(groups: Mapping[str, _Group], base: int, per_tile: int) -> SchemeFit | None:
    import numpy as np

    if per_tile <= 0 or base < 0:
        return None
    tiled = {d: g for d, g in groups.items() if d != "low"}
    merged = _Group.merged(list(tiled.values()))
    target = (merged.t - base) // per_tile
    exact = ((merged.t - base) % per_tile == 0) & (target >= 1)
    if int(merged.score(exact)) * 2 < int(merged.weight.sum()):
        return None  # most rows are not base + a multiple of the tile cost: not this scheme
    top_long = int(min(merged.long.max(), MAX_CAP))
    top_short = int(min(merged.short.max(), TILE_FIT * 32))

    def ok(tiles: Any) -> Any:
        return exact & (tiles == target)

    def check(i: Any, tiles: Any) -> Any:
        return exact[i] & (tiles == target[i])

    def side_scan(fit_box: int) -> tuple[Any, Any]:
        # rows whose short side after the fit is under the value are unchanged by it
        fitted = _by_short(merged, np.minimum(*_fit(merged.w, merged.h, fit_box)))
        return _scan_from(fitted, top_short,
                          lambda s, i: check(i, _tiles(merged.w[i], merged.h[i], fit_box, s)))

    def fit_scan(side: int) -> tuple[Any, Any]:
        return _scan_from(merged, top_long,
                          lambda f, i: check(i, _tiles(merged.w[i], merged.h[i], f, side)))

    fit_box, side = top_long, top_short
    seen: set[tuple[int, int]] = set()
    for _ in range(4):
        sides, s_scores = side_scan(fit_box)
        side = _pick(_ranges(sides, s_scores == s_scores.max()), _prior("short_side") + [top_short])
        fits, f_scores = fit_scan(side)
        fit_box = _pick(_ranges(fits, f_scores == f_scores.max()), _prior("fit") + [top_long])
        if int(f_scores.max()) * 2 <= int(merged.weight.sum()):
            return None  # no fit box and shortest side explain most rows: not this scheme
        if (fit_box, side) in seen:
            break
        seen.add((fit_box, side))
    tiled_score = int(merged.score(ok(_tiles(merged.w, merged.h, fit_box, side))))
    low = groups.get("low")
    score = tiled_score + (int(low.score(low.t == base)) if low is not None else 0)
    sides, s_scores = side_scan(fit_box)
    fits, f_scores = fit_scan(side)
    s_ok, f_ok = s_scores == tiled_score, f_scores == tiled_score
    levels: dict[str, dict[str, int]] = {
        d: {} for d in ("low", "high") if d in groups or (d == "high" and tiled)}
    rule = CalibrationRule("tile", levels, "high", base=base, per_tile=per_tile,
                           fit=fit_box if fit_box != top_long or top_long >= TILE_FIT else TILE_FIT,
                           short_side=side)
    fit = SchemeFit(rule, score)
    fit_ranges = [(lo, MAX_CAP if hi == top_long else hi) for lo, hi in _ranges(fits, f_ok)]
    side_ranges = [(lo, TILE_FIT if hi == top_short else hi) for lo, hi in _ranges(sides, s_ok)]
    fit.ranges = {"fit": fit_ranges, "short_side": side_ranges}
    if low is None:
        fit.ranges["base"] = [(base, base)]
    for lo, hi in fit_ranges:
        for value in (lo, hi):
            fit.alternatives.append(replace(rule, fit=value))
    for lo, hi in side_ranges:
        for value in (lo, hi):
            fit.alternatives.append(replace(rule, short_side=value))
    return fit


# --- the provider schemes (providers.md) ------------------------------------------------------

_MAX_SIDE = 2**31 - 1  # the provider kernels' domain: register_model's bound on their sizes
#: The largest size limit scanned value by value (a provider's edge, small side or crop
#: unit), as OpenAI's caps are: the top stands for every value above it. Bounds time and
#: memory for sides up to 2^31 - 1; rows larger than it are still verified by the kernel.
SIDE_SCAN = MAX_CAP
#: Level order of a rule's details: OpenAI's and Gemini's levels together.
_LEVEL_ORDER = ("low", "medium", "high", "ultra_high", "original")


@functools.lru_cache(maxsize=None)
def _provider_prior(scheme: str, name: str) -> list[int]:
    """Values of a provider parameter the shipped models use, most common first (what
    :func:`_prior` is for OpenAI's): the pick within a range the rows leave open."""
    from . import models, rulesets

    counts: dict[int, int] = {}
    for rs in rulesets():
        for spec in models(rs):
            for p in spec.params.values():
                if p.scheme != scheme:
                    continue
                value = {"max_edge": p.cap, "max_tokens": p.budget, "patch": p.patch,
                         "cell": p.patch * p.merge, "min_pixels": p.lo, "max_pixels": p.hi,
                         "short_side": p.short_side, "unit_min": p.lo, "unit_max": p.hi,
                         "base": p.base, "per_tile": p.per_tile}[name]
                if value:
                    counts[value] = counts.get(value, 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))


def _constant(group: _Group) -> tuple[int, int]:
    """The count most of a group's rows carry, and their weight: a flat level's base."""
    import numpy as np

    values, inverse = np.unique(group.t, return_inverse=True)
    weights = np.bincount(inverse, weights=group.weight)
    best = int(np.argmax(weights))
    return int(values[best]), int(weights[best])


def _levels(flat: Mapping[str, int], counted: Iterable[str]) -> tuple[dict[str, dict[str, int]], str]:
    """A provider rule's details and auto level: ``flat`` levels (label -> base) and the
    ``counted`` labels the scheme's parameters count. "auto" rows are the level they agree
    with (spec 3.4: an alias, per model), or a level of their own when none does; rows that
    name no level make a rule without levels."""
    counted = set(counted)
    levels = [d for d in _LEVEL_ORDER if d in flat or d in counted]
    if not levels:
        return ({"auto": {"base": flat["auto"]}} if "auto" in flat else {"auto": {}}), "auto"
    details: dict[str, dict[str, int]] = {d: ({"base": flat[d]} if d in flat else {})
                                          for d in levels}
    auto = None
    if "auto" in flat:
        auto = next((d for d in ("high", *_LEVEL_ORDER) if d in flat and flat[d] == flat["auto"]),
                    None)
    elif "auto" in counted:
        auto = next((d for d in ("high", *_LEVEL_ORDER) if d in counted), None)
    if auto is None and ("auto" in flat or "auto" in counted):
        free = next((d for d in ("high", *_LEVEL_ORDER) if d not in details), None)
        if free is not None:  # else every level is taken: the "auto" rows will disagree
            auto = free
            details[auto] = {"base": flat["auto"]} if "auto" in flat else {}
    if auto is None:
        auto = "high" if "high" in details else levels[0]
    return {d: details[d] for d in _LEVEL_ORDER if d in details}, auto


def _interval_sweep(starts: Any, ends: Any, weights: Any, low: int, high: int,
                    constant: int = 0) -> tuple[int, list[tuple[int, int]]]:
    """Inclusive intervals (one per row and way of reproducing it) clipped to low..high: the
    most weight any value gathers, and the ranges of values that gather it."""
    events: dict[int, int] = {low: 0}
    for a, b, wgt in zip(starts.tolist(), ends.tolist(), weights.tolist()):
        a, b = max(a, low), min(b, high)
        if a <= b:
            events[a] = events.get(a, 0) + wgt
            events[b + 1] = events.get(b + 1, 0) - wgt
    level, best = 0, -1
    runs: list[tuple[int, int]] = []
    points = sorted(events)
    for here, nxt in zip(points, points[1:] + [high + 1]):
        level += events[here]
        if here > high:
            break
        if level > best:
            best, runs = level, []
        if level == best:
            if runs and runs[-1][1] == here - 1:
                runs[-1] = (runs[-1][0], min(nxt - 1, high))
            else:
                runs.append((here, min(nxt - 1, high)))
    return best + constant, runs


def _monotone_interval(count: Callable[[Any], Any], target: Any, low: Any, high: Any) -> tuple[Any, Any]:
    """Per row, the values x in low..high where ``count(x) == target``, for a count that
    never decreases in x: (first, last), empty where first > last. Bisection on arrays."""
    import numpy as np

    def bisect(at_or_over: bool) -> Any:
        a, b = low - 1, high + 1  # a: below every hit; b: past every hit
        while True:
            step = a + 1 < b
            if not step.any():
                return a, b
            mid = np.where(step, (a + b) // 2, low)
            got = count(mid)
            cond = (got >= target) if at_or_over else (got <= target)
            if at_or_over:
                b, a = np.where(step & cond, mid, b), np.where(step & ~cond, mid, a)
            else:
                a, b = np.where(step & cond, mid, a), np.where(step & ~cond, mid, b)

    first = bisect(True)[1]
    last = bisect(False)[0]
    return first, last


def _ranged(rule: CalibrationRule, fit: SchemeFit, name: str, ranges: Sequence[tuple[int, int]]) -> None:
    """Record what the rows leave open of one parameter, and the rules at its ends."""
    fit.ranges[name] = list(ranges)
    for lo, hi in ranges:
        for value in (lo, hi):
            if value != getattr(rule, name):
                changed: dict[str, Any] = {name: value}
                fit.alternatives.append(replace(rule, **changed))


@searcher("fixed")
def search_fixed(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """providers 2.1 (Gemini 3 levels, Gemini 1.0) and 5 (Nova 2): one count per image, per
    detail level; each level's count is the one most of its rows carry."""
    if set(groups) == {"low"}:
        return None  # low detail alone: the tile scheme's base (spec 3.2), its tiles open
    flat = {d: _constant(g) for d, g in groups.items()}
    if not any(int((g.t == flat[d][0]).sum()) >= 2 for d, g in groups.items()):
        return None  # no level shows one count at two sizes: nothing says size is ignored
    details, auto = _levels({d: b for d, (b, _) in flat.items()}, ())
    rule = CalibrationRule("fixed", details, auto, base=details[auto].get("base"))
    return SchemeFit(rule, sum(score for _, score in flat.values()))


@searcher("claude")
def search_claude(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """providers 1.1: 28-px patches, the image bisected down until its padded edges fit
    max_edge and its patches max_tokens. Only floor(max_edge / 28) shows in a count, so the
    edge is scanned in patches; the token limit over the window the billed counts allow."""
    import numpy as np

    g = _Group.merged(list(groups.values()))
    patch = CLAUDE_PATCH
    padded = _by_short(g, _cdiv(g.long, patch) * patch)  # what the edge test sees
    top_edge = int(min(padded.long.max(), SIDE_SCAN)) // patch  # in patches
    raw = _cdiv(g.w, patch) * _cdiv(g.h, patch)
    top_tokens = int(min(max(int(raw.max()), 1), _MAX_SIDE))
    total = int(g.weight.sum())

    def edge_scan(budget: int) -> tuple[Any, Any]:
        edges = np.arange(1, top_edge + 1, dtype=np.int64)
        return edges, _scan(g, edges, lambda k: _claude(g.w, g.h, k * patch, budget) == g.t)

    def token_scan(edge: int) -> tuple[Any, Any]:
        alone = _claude(g.w, g.h, edge * patch, top_tokens)
        need = g.t < alone  # rows the edge alone does not explain: the limit shrank them
        # a limit at or over every row's count after the edge changes no count (the
        # bisection's sizes below the result count fewer patches): one range, its ends
        values = np.unique(np.array([min(int(alone.max()), top_tokens), top_tokens],
                                    dtype=np.int64))
        if need.any():
            # step 5: a row the limit bound bills more as the limit grows (the bisection
            # keeps the largest size that fits), so the limits that reproduce it are an
            # interval; scan where (nearly) the most rows' intervals meet
            w, h, t = g.w[need], g.h[need], g.t[need]
            first, last = _monotone_interval(lambda b: _claude(w, h, edge * patch, b), t,
                                             np.ones_like(t), np.full(len(t), top_tokens))
            runs = _window_runs(first, last, g.weight[need], top_tokens)
            values = np.unique(np.concatenate(
                [np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in runs] + [values]))
        return values, _scan(g, values, lambda b: _claude(g.w, g.h, edge * patch, b) == g.t)

    edge_prior = [v // patch for v in _provider_prior("claude", "max_edge")] + [top_edge]
    token_prior = _provider_prior("claude", "max_tokens") + [top_tokens]
    edge, budget = top_edge, top_tokens
    seen: set[tuple[int, int]] = set()
    for _ in range(4):
        edges, e_scores = edge_scan(budget)
        edge = _pick(_ranges(edges, e_scores == e_scores.max()), edge_prior)
        budgets, b_scores = token_scan(edge)
        budget = _pick(_ranges(budgets, b_scores == b_scores.max()), token_prior)
        score = int(g.score(_claude(g.w, g.h, edge * patch, budget) == g.t))
        if score * 2 < total:
            return None  # most rows are not Claude's patches
        if (edge, budget) in seen:
            break
        seen.add((edge, budget))
    rule = CalibrationRule("claude", *_levels({}, ()), max_edge=edge * patch, max_tokens=budget)
    fit = SchemeFit(rule, score)
    edges, e_scores = edge_scan(budget)
    budgets, b_scores = token_scan(edge)
    # an edge of k patches is every max_edge in 28k..28k+27; the top stands for all above
    _ranged(rule, fit, "max_edge", [
        (lo * patch, _MAX_SIDE if hi == top_edge else hi * patch + patch - 1)
        for lo, hi in _ranges(edges, e_scores == score)])
    _ranged(rule, fit, "max_tokens", [(lo, _MAX_SIDE if hi == top_tokens else hi)
                                      for lo, hi in _ranges(budgets, b_scores == score)])
    return fit


def _window_runs(starts: Any, ends: Any, weights: Any, top: int, tolerance: int = 3,
                 most: int = 8192) -> list[tuple[int, int]]:
    """Runs of values that lie in nearly as many windows (weighted) as the most any value
    lies in (``tolerance`` rows fewer: corrupted rows may pull elsewhere), at most ``most``
    values, the best covered first."""
    events: dict[int, int] = {}
    for a, b, wgt in zip(starts.tolist(), ends.tolist(), weights.tolist()):
        a, b = max(1, a), min(b, top)
        if a <= b:
            events[a] = events.get(a, 0) + wgt
            events[b + 1] = events.get(b + 1, 0) - wgt
    level, pieces = 0, []
    points = sorted(events)
    for here, nxt in zip(points, points[1:]):
        level += events[here]
        pieces.append((level, here, nxt - 1))
    if not pieces:
        return []
    best = max(p[0] for p in pieces)
    runs, size = [], 0
    for level, a, b in sorted(pieces, key=lambda p: -p[0]):
        if level < best - tolerance or level <= 0 or size >= most:
            break
        b = min(b, a + most - size - 1)
        runs.append((a, b))
        size += b - a + 1
    return sorted(runs)


def _mistral_factors(cell: int) -> tuple[int, int] | None:
    """(patch, merge) of a cell: a shipped model's split when one has that cell, else the
    smallest merge that keeps the patch registrable (a bill shows only the product)."""
    for scheme_patch in _provider_prior("mistral", "patch"):
        if cell % scheme_patch == 0 and 1 <= cell // scheme_patch <= 16:
            return scheme_patch, cell // scheme_patch
    for merge in range(1, 17):
        if cell % merge == 0 and cell // merge <= 1024:
            return cell // merge, merge
    return None


@searcher("mistral")
def search_mistral(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """providers 3.1: shrink into max_edge (floats as mistral-common's), then rows x (cols + 1)
    tokens of patch x merge cells. The cell from the rows, then the edge, until stable."""
    import numpy as np

    g = _Group.merged(list(groups.values()))
    top_edge = int(min(g.long.max(), SIDE_SCAN))
    cells = np.array([c for c in range(1, int(min(g.long.max(), 16 * 1024)) + 1)
                      if _mistral_factors(c) is not None], dtype=np.int64)
    total = int(g.weight.sum())

    def cell_scan(edge: int) -> Any:
        w, h = _mistral_resized(g.w, g.h, edge)
        # a cell at or over every resized side makes each image one cell: the same count
        some = cells[:int(np.searchsorted(cells, max(int(w.max()), int(h.max())))) + 1]
        scores = _scan(g, some, lambda c: ((h - 1) // c + 1) * ((w - 1) // c + 2) == g.t)
        return np.concatenate([scores, np.full(len(cells) - len(some), scores[-1])])

    def edge_scan(cell: int) -> tuple[Any, Any]:
        return _scan_from(g, top_edge, lambda e, i: _mistral(g.w[i], g.h[i], e, cell) == g.t[i])

    cell_prior = _provider_prior("mistral", "cell")
    edge_prior = _provider_prior("mistral", "max_edge") + [top_edge]
    # The cell the unresized rows (all of them, at the top edge) agree on, and the shipped
    # models' cells: when few rows escape the edge, the first may be a coincidence.
    c_scores = cell_scan(top_edge)
    first = _pick(_ranges(cells, c_scores == c_scores.max()), cell_prior)
    best: tuple[int, int, int] | None = None
    for start in [first] + [c for c in cell_prior if c != first and c in set(cells.tolist())]:
        cell, edge = start, top_edge
        seen: set[tuple[int, int]] = set()
        for _ in range(4):
            edges, e_scores = edge_scan(cell)
            edge = _pick(_ranges(edges, e_scores == e_scores.max()), edge_prior)
            score = int(g.score(_mistral(g.w, g.h, edge, cell) == g.t))
            if score * 2 < total or (edge, cell) in seen:
                break  # most rows are not these cells, or settled
            seen.add((edge, cell))
            c_scores = cell_scan(edge)
            cell = _pick(_ranges(cells, c_scores == c_scores.max()), cell_prior)
        score = int(g.score(_mistral(g.w, g.h, edge, cell) == g.t))
        if best is None or score > best[0]:
            best = (score, edge, cell)
        if score == total:
            break
    assert best is not None
    score, edge, cell = best
    if score * 2 < total:
        return None  # most rows are not Mistral's cells
    patch, merge = _mistral_factors(cell) or (cell, 1)
    rule = CalibrationRule("mistral", *_levels({}, ()), max_edge=edge, patch=patch, merge=merge)
    fit = SchemeFit(rule, score)
    c_scores = cell_scan(edge)
    edges, e_scores = edge_scan(cell)
    fit.ranges["cell"] = _ranges(cells, c_scores == score)
    for c in cells[c_scores == score].tolist()[:8]:
        if c != cell:
            p_m = _mistral_factors(c)
            if p_m is not None:
                fit.alternatives.append(replace(rule, patch=p_m[0], merge=p_m[1]))
    _ranged(rule, fit, "max_edge", [(lo, _MAX_SIDE if hi == top_edge else hi)
                                    for lo, hi in _ranges(edges, e_scores == score)])
    return fit


@searcher("qwen")
def search_qwen(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """providers 4.1 (smart_resize): the factor from the rows no limit resizes, then
    max_pixels, then min_pixels. Each row's count never decreases as a limit grows, so the
    limits that reproduce it are an interval (found by bisection), and the limit is the value
    the most rows' intervals share."""
    import numpy as np

    g = _Group.merged(list(groups.values()))
    total = int(g.weight.sum())
    usable = np.maximum(g.w, g.h) <= 200 * np.minimum(g.w, g.h)
    top_f = int(min(1024, max(int(g.long.max()), 1)))
    factors = np.arange(1, top_f + 1, dtype=np.int64)

    def middle(f: Any) -> Any:
        hb, wb, _ = _qwen_grid(g.w, g.h, f)
        return (hb // f) * (wb // f) + QWEN_MARKERS

    f_scores = _scan(g, factors, lambda f: usable & (middle(f) == g.t))
    order = sorted(range(len(factors)), key=lambda i: -int(f_scores[i]))
    tried = [int(factors[i]) for i in order[:3]]
    tried += [f for f in _provider_prior("qwen", "patch")
              if f <= top_f and f_scores[f - 1] == f_scores.max() and f not in tried]

    best: tuple[int, Any, Any, int, int] | None = None
    for f in tried:
        _hb, _wb, area = _qwen_grid(g.w, g.h, f)
        mid = middle(f)
        # max_pixels: at or above the area the row is not shrunk (its count at least the
        # unresized one, min_pixels decides the rest); below, shrunk to its billed count
        first, last = _monotone_interval(
            lambda x: _qwen_shrunk(g.w, g.h, f, x) + QWEN_MARKERS, g.t, np.ones_like(area), area - 1)
        starts = np.concatenate([np.where(g.t >= mid, area, _MAX_SIDE + 1), first])
        ends = np.concatenate([np.full(len(area), _MAX_SIDE), last])
        weights = np.concatenate([g.weight, g.weight]) * np.concatenate([usable, usable])
        floor = 200 * f * f  # register_model: max_pixels >= 200 f^2 (the kernels' bound)
        if floor > _MAX_SIDE:
            continue
        _, hi_ranges = _interval_sweep(starts, ends, weights, floor, _MAX_SIDE)
        hi = _pick(hi_ranges, _provider_prior("qwen", "max_pixels"))
        # min_pixels (at most max_pixels): shrunk rows are settled; the rest are unresized
        # at or under their area, grown above it
        shrunk = area > hi
        settled = int(g.score(shrunk & usable & (_qwen_shrunk(g.w, g.h, f, hi) + QWEN_MARKERS == g.t)))
        first, last = _monotone_interval(
            lambda x: _qwen_grown(g.w, g.h, f, x) + QWEN_MARKERS, g.t, area + 1,
            np.full(len(area), hi))
        keep = np.concatenate([~shrunk & usable, ~shrunk & usable])
        starts = np.concatenate([np.where(g.t == mid, 1, hi + 1), first])
        ends = np.concatenate([area, last])
        _, lo_ranges = _interval_sweep(starts, ends, np.concatenate([g.weight, g.weight]) * keep,
                                       1, hi, settled)
        lo = _pick(lo_ranges, _provider_prior("qwen", "min_pixels"))
        score = int(g.score(_qwen(g.w, g.h, f, lo, hi, QWEN_MARKERS) == g.t))
        if best is None or score > best[0]:
            best = (score, f, lo, hi, 0)
            best_ranges = (lo_ranges, hi_ranges)
    if best is None or best[0] * 2 < total:
        return None
    score, f, lo, hi, _ = best
    rule = CalibrationRule("qwen", *_levels({}, ()), patch=f, min_pixels=lo, max_pixels=hi,
                           markers=QWEN_MARKERS)
    fit = SchemeFit(rule, score)
    _ranged(rule, fit, "min_pixels", best_ranges[0])
    _ranged(rule, fit, "max_pixels", best_ranges[1])
    return fit


@searcher("gemini_tiles")
def search_gemini_tiles(groups: Mapping[str, _Group]) -> SchemeFit | None:
    """providers 2.1: small images cost a base; others tiles of a crop unit (floor(min / 1.5)
    clamped), a cost per tile. Levels whose rows carry one count are flat (Gemini 2.5's low
    and medium). The tile cost is the common divisor of the tiled rows' counts, the base what
    the smallest images bill; the small side and the unit's clamp are scanned."""
    import numpy as np

    flat = {d: _constant(g) for d, g in groups.items()}
    flat = {d: v for d, v in flat.items() if v[1] * 2 > int(groups[d].weight.sum())}
    tiled = [d for d in groups if d not in flat]
    if not tiled:
        return None  # one count per level: the fixed scheme's rows
    g = _Group.merged([groups[d] for d in tiled])
    total = int(g.weight.sum())
    ts = g.t[np.argsort(g.long, kind="stable")].tolist()
    common = [p for p in _mode(math.gcd(a, b) for i, a in enumerate(ts)
                               for b in ts[i + 1:i + 9]) if p > 0][:6]
    # The tile cost divides every tiled row's count: of the common divisors, the largest
    # that divides nearly as many rows as any (many tile counts are even: twice the cost
    # is a common divisor too), then the most common.
    divides = {p: int(g.score(g.t % p == 0)) for p in common}
    most = max(divides.values(), default=0)
    per_tile = sorted((p for p in common if divides[p] * 10 >= most * 9), reverse=True)[:1]
    per_tile += [p for p in common[:1] if p not in per_tile]
    bases = _mode(ts[:3])[:1]  # what the smallest images bill
    if not per_tile:
        return None
    top_long = int(min(g.long.max(), SIDE_SCAN))
    top_unit = int(min(2 * g.short.max() // 3, SIDE_SCAN)) + 1  # at or over it, one unit
    units = np.arange(1, top_unit + 1, dtype=np.int64)
    sides = np.arange(0, top_long + 1, dtype=np.int64)

    def count(s: Any, base: int, pt: int, a: Any, b: Any) -> Any:
        return _gemini(g.w, g.h, s, base, pt, a, b)

    by_long = np.argsort(g.long, kind="stable")
    long_sorted = g.long[by_long]

    def side_scan(base: int, pt: int, a: int, b: int) -> Any:
        # rows at or under a small side bill the base, the others their tiles: prefix sums
        # over the rows by long side give every small side's score at once
        small_ok = np.concatenate([[0], np.cumsum((g.weight * (g.t == base))[by_long])])
        tiled_ok = g.weight * (_gemini(g.w, g.h, 0, base, pt, a, b) == g.t)
        tiled_ok = np.concatenate([[0], np.cumsum(tiled_ok[by_long])])
        under = np.searchsorted(long_sorted, sides, side="right")
        return small_ok[under] + (tiled_ok[-1] - tiled_ok[under])

    def unit_min_scan(s: int, base: int, pt: int, b: int) -> Any:  # unit_min <= unit_max
        scores = _scan(g, units, lambda u: count(s, base, pt, u, b) == g.t)
        return np.where(units <= b, scores, -1)

    def unit_max_scan(s: int, base: int, pt: int, a: int) -> Any:
        scores = _scan(g, units, lambda u: count(s, base, pt, a, u) == g.t)
        return np.where(units >= a, scores, -1)

    best: tuple[int, tuple[int, int, int, int, int]] | None = None
    for pt in per_tile:
        for base in bases:
            s, a, b = _pick([(0, top_long)], _provider_prior("gemini_tiles", "short_side")), 1, top_unit
            seen: set[tuple[int, int, int]] = set()
            for _ in range(4):
                a_scores = unit_min_scan(s, base, pt, b)
                a = _pick(_ranges(units, a_scores == a_scores.max()),
                          _provider_prior("gemini_tiles", "unit_min") + [1])
                b_scores = unit_max_scan(s, base, pt, a)
                b = _pick(_ranges(units, b_scores == b_scores.max()),
                          _provider_prior("gemini_tiles", "unit_max") + [top_unit])
                s_scores = side_scan(base, pt, a, b)
                s = _pick(_ranges(sides, s_scores == s_scores.max()),
                          _provider_prior("gemini_tiles", "short_side"))
                score = int(g.score(count(s, base, pt, a, b) == g.t))
                if (s, a, b) in seen or score * 2 < total:
                    break
                seen.add((s, a, b))
            if best is None or score > best[0]:
                best = (score, (pt, base, s, a, b))
    assert best is not None
    score, (pt, base, s, a, b) = best
    if score * 2 < total:
        return None
    details, auto = _levels({d: v[0] for d, v in flat.items()}, tiled)
    rule = CalibrationRule("gemini_tiles", details, auto, base=base, per_tile=pt, short_side=s,
                           unit_min=a, unit_max=b)
    fit = SchemeFit(rule, score + sum(v[1] for v in flat.values()))
    a_scores = unit_min_scan(s, base, pt, b)
    b_scores = unit_max_scan(s, base, pt, a)
    s_scores = side_scan(base, pt, a, b)
    _ranged(rule, fit, "short_side", [(lo, _MAX_SIDE if hi == top_long else hi)
                                      for lo, hi in _ranges(sides, s_scores == score)])
    _ranged(rule, fit, "unit_min", _ranges(units, a_scores == score))
    _ranged(rule, fit, "unit_max", [(lo, _MAX_SIDE if hi == top_unit else hi)
                                    for lo, hi in _ranges(units, b_scores == score)])
    return fit


# --- the result ------------------------------------------------------------------------------

#: Probe sizes: what a probe run could send. Squares, and 2:1 to 16:1 in both orientations.
def _probe_sizes() -> list[tuple[int, int]]:
    sides = sorted({s for k in range(1, 33) for s in (32 * k, 32 * k + 1)} |
                   {s for s in range(1024, 8193, 256)} | {768, 1000, 1500, 2000, 3000, 4000, 6000,
                                                         8000, 12000, 16000, 32000, 65535})
    sizes = [(s, s) for s in sides]
    for ratio in (2, 3, 4, 8, 16):
        for s in sides:
            if s // ratio >= 1:
                sizes += [(s, s // ratio), (s // ratio, s)]
    return sorted(set(sizes))


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` found."""

    rule: CalibrationRule
    matched: int  # rows the rule reproduces exactly
    total: int
    disagreeing: tuple[Disagreement, ...]
    #: Rules that reproduce the matched rows as well as ``rule`` and count some other size
    #: differently (``rule`` first); one rule when the rows decide.
    candidates: tuple[CalibrationRule, ...]
    #: Parameters the rows leave open: "high.cap" -> [(low, high), ...] (inclusive ranges).
    ranges: Mapping[str, tuple[tuple[int, int], ...]]
    #: Image sizes (width, height, detail) whose bills would split the candidates.
    probes: tuple[tuple[int, int, str], ...]

    @property
    def exact(self) -> bool:
        return self.matched == self.total

    @property
    def decided(self) -> bool:
        """True when one rule remains: every other rule the search knows disagrees with a row."""
        return len(self.candidates) == 1

    def statement(self) -> str:
        """The result in plain words: the rule, the match rate, what stays open and which
        probe sizes would close it."""
        lines = [f"{self.rule.describe()}",
                 f"reproduces {self.matched} of {self.total} rows exactly"
                 + ("" if self.exact else f" ({100 * self.matched / self.total:.1f}%); "
                    f"{len(self.disagreeing)} rows disagree")]
        if self.decided:
            lines.append("the rows decide the rule: no other rule reproduces them")
            return "\n".join(lines)
        open_ = [f"{name} in {' or '.join(f'{lo}..{hi}' if lo != hi else str(lo) for lo, hi in r)}"
                 for name, r in self.ranges.items()]
        lines.append(f"{len(self.candidates)} rules reproduce these rows and differ elsewhere"
                     + (f" ({'; '.join(open_)})" if open_ else ""))
        if self.probes:
            sizes = ", ".join(f"{w}x{h} {d}" for w, h, d in self.probes)
            lines.append(f"{len(self.probes)} more rows would split them: bill images of {sizes}")
        else:
            lines.append("no probe size up to 65535 px splits them: they count every size alike")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.statement()

    def register(self, name: str, *, ruleset: str | None = None, replace_existing: bool = False) -> None:
        """Make the fitted rule a model: :func:`visiontokens.register_model` with its
        parameters, so ``count_image_tokens(w, h, name, detail)`` counts with it."""
        from .rules import register_model

        register_model(name, ruleset=ruleset, replace_existing=replace_existing,
                       **self.rule.register_kwargs())

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.as_dict(), "matched": self.matched, "total": self.total,
                "exact": self.exact,
                "disagreeing": [{"row": d.row, "width": d.width, "height": d.height,
                                 "detail": d.detail, "billed": d.billed, "predicted": d.predicted}
                                for d in self.disagreeing],
                "candidates": [c.as_dict() for c in self.candidates],
                "ranges": {k: [list(r) for r in v] for k, v in self.ranges.items()},
                "probes": [{"width": w, "height": h, "detail": d} for w, h, d in self.probes],
                "statement": self.statement()}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the rule as a model file: ``{"register_model": {...}, "calibration": {...}}``.
        ``register_model(name, **data["register_model"])`` (or :func:`load`) makes it a model."""
        data = {"format": "visiontokens-model", "version": 1,
                "register_model": self.rule.register_kwargs(), "calibration": self.as_dict()}
        with open(path, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.write("\n")


def load(path: str | os.PathLike[str], name: str, *, ruleset: str | None = None,
         replace_existing: bool = False) -> None:
    """Register the model a :meth:`Calibration.save` file describes, under ``name``."""
    from .rules import register_model

    with open(path, encoding="utf-8") as file:
        try:
            data = json.load(file)
        except ValueError as error:
            raise InvalidArgumentError(f"{os.fspath(path)!r} is not a model file: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("register_model"), dict):
        raise InvalidArgumentError(f"{os.fspath(path)!r} is not a model file (no 'register_model')")
    register_model(name, ruleset=ruleset, replace_existing=replace_existing, **data["register_model"])


def _verify(rule: CalibrationRule, rows: Sequence[Row]) -> list[Disagreement]:
    """The rows ``rule`` does not reproduce, counted by the library's own kernel."""
    from ._errors import VisionTokensError

    model = rule.model()
    out = []
    for i, r in enumerate(rows):
        level = rule.level_of(r.detail)
        try:
            got: int | None = model.count(r.width, r.height, level)
        except VisionTokensError:
            got = None
        if got != r.tokens:
            out.append(Disagreement(i, r.width, r.height, r.detail, r.tokens, got))
    return out


def _probes(rules: Sequence[CalibrationRule], details: Sequence[str]) -> tuple[tuple[int, int, str], ...]:
    """Fewest probe sizes that tell every pair of rules apart (greedy set cover)."""
    import numpy as np

    if len(rules) < 2:
        return ()
    sizes = _probe_sizes()
    w = np.array([s[0] for s in sizes], dtype=np.int64)
    h = np.array([s[1] for s in sizes], dtype=np.int64)
    columns, labels = [], []
    for d in details:
        try:
            table = np.stack([predict(r, w, h, d) for r in rules])  # rules x sizes
        except KeyError:  # a level one rule lacks
            continue
        columns.append(table)
        labels += [(int(a), int(b), d) for a, b in sizes]
    if not columns:
        return ()
    table = np.concatenate(columns, axis=1)
    pairs = {(i, j) for i in range(len(rules)) for j in range(i + 1, len(rules))
             if (table[i] != table[j]).any()}
    chosen = []
    while pairs:
        best: int | None = None
        best_split: set[tuple[int, int]] = set()
        for col in range(table.shape[1]):
            values = table[:, col]
            split = {(i, j) for i, j in pairs if values[i] != values[j]}
            if len(split) > len(best_split):
                best, best_split = col, split
        if best is None:
            break
        chosen.append(labels[best])
        pairs -= best_split
    return tuple(chosen)


def calibrate(rows: Iterable[object], *, schemes: Sequence[str] | None = None) -> Calibration:
    """Fit a rule to billed rows: ``(width, height, detail, tokens)`` tuples, or mappings with
    ``width``, ``height``, ``detail`` (default "auto") and ``tokens`` (or ``billed``,
    ``image_tokens``). ``schemes`` limits the search (default: every scheme of SEARCHERS).

    Returns a :class:`Calibration`: the rule reproducing the most rows (every row, when one
    does), the rows it does not, the other rules the rows cannot rule out and the probe
    sizes that would.
    """
    checked = rows_from(rows)
    names = list(SEARCHERS) if schemes is None else list(schemes)
    for name in names:
        if name not in SEARCHERS:
            raise InvalidArgumentError(f"unknown scheme {name!r}; known: {', '.join(SEARCHERS)}")
    by_detail: dict[str, list[Row]] = {}
    for r in checked:
        by_detail.setdefault(r.detail, []).append(r)
    groups = {d: _Group(d, rs) for d, rs in by_detail.items()}
    fits = []
    for name in names:
        try:
            fit = SEARCHERS[name](groups)
        except InvalidArgumentError:
            fit = None
        if fit is not None:
            fits.append(fit)
    if not fits:
        raise InvalidArgumentError("no rule of the known schemes fits any of these rows")
    # Verify with the library's kernel: the score of every rule on every row, as given.
    scored = []
    for fit in fits:
        for rule in [fit.rule] + fit.alternatives:
            try:
                misses = _verify(rule, checked)
            except InvalidArgumentError:  # parameters register_model refuses
                continue
            scored.append((len(checked) - len(misses), rule, misses, fit))
    if not scored:
        raise InvalidArgumentError("no rule of the known schemes fits any of these rows")
    best = max(s[0] for s in scored)
    # Rules of several schemes that reproduce the rows alike: the first by TIE_ORDER.
    winners = sorted((s for s in scored if s[0] == best),
                     key=lambda s: TIE_ORDER.index(s[1].scheme) if s[1].scheme in TIE_ORDER
                     else len(TIE_ORDER))
    rule, misses, fit = winners[0][1], winners[0][2], winners[0][3]
    missed = {d.row for d in misses}
    candidates = [rule]
    for s in winners[1:]:
        if {d.row for d in s[2]} == missed and s[1] not in candidates:
            candidates.append(s[1])
    details = sorted({r.detail for r in checked} | set(rule.details), key=DETAILS.index)
    probes = _probes(candidates, details)
    if len(candidates) > 1 and not probes:
        candidates = [rule]  # they count every size alike: one rule in effect
    ranges = {}
    for s in winners:
        if s[1] in candidates:
            for k, v in s[3].ranges.items():
                if any(lo != hi for lo, hi in v) and not (len(v) == 1 and _rule_fixed(k, v)):
                    ranges[k] = tuple(v)
    if len(candidates) == 1:
        ranges = {}
    return Calibration(rule, best, len(checked), tuple(misses), tuple(candidates), ranges, probes)


#: Which scheme reports a rule when rules of several reproduce the same rows: a count that
#: never changes with size is the fixed scheme's before it is a tile rule without tiles or
#: a patch rule with a tiny size cap.
TIE_ORDER = ("fixed", "tile", "patch", "claude", "mistral", "qwen", "gemini_tiles")


def _rule_fixed(name: str, ranges: Sequence[tuple[int, int]]) -> bool:
    return False


class _CallableModule(_types.ModuleType):
    """This module, callable as its function: importing ``visiontokens.calibrate`` puts the module
    where ``visiontokens.calibrate`` is looked up, and both must work."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return calibrate(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
