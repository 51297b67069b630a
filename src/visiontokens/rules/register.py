"""User registrations (spec 1): a deployment name mapped to a documented model, or a new model
with its own parameters, in one ruleset or in all. Every change clears the resolution cache.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Mapping

from .._errors import ArgumentTypeError, InvalidArgumentError
from .._spec import LEVELS, MAX_BUDGET, MAX_CAP, MAX_MULTIPLIER, MAX_TOKENS_PARAM, TILE_FIT, TILE_SHORT_SIDE
from . import memo
from .load import openai_ruleset, patch_params, tile_params
from .memo import locked
from .files import SHIPPED
from .resolution import get_ruleset, resolve
from .specs import DetailParams, ModelSpec, Ruleset


@locked
def register_model(
    name: str,
    *,
    like: str | None = None,
    scheme: str | None = None,
    multiplier: object = None,
    details: Mapping[str, Mapping[str, int]] | None = None,
    auto: str | None = None,
    base: int | None = None,
    per_tile: int | None = None,
    short_side: int = TILE_SHORT_SIDE,
    fit: int | None = None,
    ruleset: str | None = None,
    replace_existing: bool = False,
    patch: int | None = None,
    merge: int | None = None,
    max_edge: int | None = None,
    max_tokens: int | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> None:
    """Register a deployment name or a new model, in one ruleset or (by default) in all.

    An alias: ``register_model("prod-vision", like="gpt-4.1-mini")``; it resolves to the
    documented model of each ruleset. A new patch model::

        register_model("acme-vision", scheme="patch", multiplier="1.5",
                       details={"low": {"cap": 512}, "high": {"cap": 2048, "budget": 2500}},
                       auto="high")

    and a new tile model: ``register_model("acme-tiles", scheme="tile", base=85, per_tile=170)``;
    ``fit`` is the box every image of a tile model first fits into (default 2048, OpenAI's).
    Every parameter is validated (caps <= 65535, multipliers with at most 4 decimals).

    The provider schemes: ``scheme="qwen"`` (``patch`` = the factor, ``min_pixels``,
    ``max_pixels``), ``scheme="mistral"`` (``patch``, ``max_edge`` = max image size,
    ``merge``), ``scheme="claude"`` (``max_edge``, ``max_tokens``; 28-px patches) and
    ``scheme="fixed"`` (``base`` tokens per image). A Qwen deployment with its own limits:
    ``register_model("my-qwen", like="Qwen/Qwen2.5-VL-7B-Instruct", max_pixels=1003520)``.
    """
    if not isinstance(name, str) or not name:
        raise ArgumentTypeError(f"model name must be a non-empty str, got {name!r}")
    targets = [get_ruleset(ruleset)] if ruleset is not None else [get_ruleset(n) for n in SHIPPED]
    for rs in targets:
        if not replace_existing and (name in rs.models or name in rs.aliases):
            raise InvalidArgumentError(
                f"model {name!r} already exists in ruleset {rs.name!r}; pass replace_existing=True"
            )
    provider = dict(patch=patch, merge=merge, max_edge=max_edge, max_tokens=max_tokens,
                    min_pixels=min_pixels, max_pixels=max_pixels)
    if like is not None and (min_pixels is not None or max_pixels is not None):
        # A Qwen model with its own processor limits (providers 4.2): a new model, the
        # rest of its parameters from like's.
        for key in ("patch", "merge", "max_edge", "max_tokens"):
            if provider[key] is not None:
                raise InvalidArgumentError(f"with like=, only min_pixels/max_pixels may be given, not {key}")
        specs = []
        for rs in targets:
            base_spec = resolve(like, rs.name)
            p = base_spec.params[base_spec.auto]
            if p.scheme != "qwen":
                raise InvalidArgumentError(
                    f"min_pixels/max_pixels apply only to Qwen models, not to {like!r}")
            specs.append((rs, _qwen_spec(name, rs, base_spec, p.patch,
                                         p.lo if min_pixels is None else min_pixels,
                                         p.hi if max_pixels is None else max_pixels)))
        for rs, spec in specs:
            rs.aliases.pop(name, None)
            rs.models[name] = spec
        memo.clear()
        return
    if fit is not None and (like is not None or scheme != "tile"):
        raise InvalidArgumentError("fit= applies to scheme='tile' only")
    if like is not None:
        if scheme is not None or details is not None or multiplier is not None or any(
                value is not None for value in provider.values()):
            raise InvalidArgumentError("pass either like= (an alias) or the model's parameters, not both")
        # Validate the target in every ruleset before changing any (all or nothing).
        resolved = [(rs, resolve(like, rs.name).id) for rs in targets]
        for rs, target in resolved:
            rs.models.pop(name, None)
            rs.aliases[name] = target
    elif scheme in PROVIDER_SCHEMES:
        specs = [(rs, _provider_spec(name, rs, str(scheme), base, provider)) for rs in targets]
        for rs, spec in specs:
            rs.aliases.pop(name, None)
            rs.models[name] = spec
    else:
        specs = [(rs, _new_spec(name, rs, scheme, multiplier, details, auto, base, per_tile, short_side,
                                TILE_FIT if fit is None else fit))
                 for rs in targets]
        for rs, spec in specs:
            rs.aliases.pop(name, None)
            rs.models[name] = spec
    memo.clear()


@locked
def unregister_model(name: str, *, ruleset: str | None = None) -> None:
    """Remove a registration made with :func:`register_model` (shipped models stay)."""
    targets = [get_ruleset(ruleset)] if ruleset is not None else [get_ruleset(n) for n in SHIPPED]
    for rs in targets:
        rs.aliases.pop(name, None)
        spec = rs.models.get(name)
        if spec is not None and spec.status == "registered":
            del rs.models[name]
    # A replaced shipped model comes back from the data.
    for rs in targets:
        if name not in rs.models:
            shipped = openai_ruleset(rs.name).models.get(name)
            if shipped is not None:
                rs.models[name] = shipped
    memo.clear()


def _checked_int(what: str, value: object, low: int, high: int) -> int:
    if type(value) is not int:
        raise ArgumentTypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise InvalidArgumentError(f"{what} must be between {low} and {high}, got {value}")
    return value


def _checked_multiplier(value: object) -> str:
    from decimal import Decimal, InvalidOperation

    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ArgumentTypeError(f"multiplier must be a decimal str, int, float or Decimal, got {value!r}")
    try:
        # A float goes through repr(), so 1.62 means the decimal 1.62, not its binary value.
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise InvalidArgumentError(f"multiplier must be a decimal number, got {value!r}") from None
    if not number.is_finite() or not 0 < number <= MAX_MULTIPLIER:
        raise InvalidArgumentError(f"multiplier must be > 0 and <= {MAX_MULTIPLIER}, got {value!r}")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidArgumentError(f"multiplier must have at most 4 decimal places, got {value!r}")
    return str(number.normalize()) if exponent < 0 else str(int(number))  # type: ignore[operator]


def _new_spec(name: str, rs: Ruleset, scheme: object, multiplier: object,
              details: Mapping[str, Mapping[str, int]] | None, auto: object,
              base: object, per_tile: object, short_side: object,
              fit: object = TILE_FIT) -> ModelSpec:
    common: dict[str, Any] = dict(id=name, ruleset=rs.name, status="registered",
                                  source="register_model()")
    if scheme == "tile":
        entry = {
            "base": _checked_int("base", base, 0, MAX_TOKENS_PARAM),
            "per_tile": _checked_int("per_tile", per_tile, 0, MAX_TOKENS_PARAM),
            "short_side": _checked_int("short_side", short_side, 1, TILE_FIT),
        }
        # spec 3.2 step 1: the box images first fit into, validated like a patch size cap
        box = _checked_int("fit", fit, 1, MAX_CAP)
        params = {level: tile_params(entry, level, box) for level in ("low", "high")}
        return ModelSpec(scheme="tile", params=MappingProxyType(params), auto="high",
                         multiplier=None, base=entry["base"], per_tile=entry["per_tile"], **common)
    if scheme != "patch":
        raise InvalidArgumentError(
            f"scheme must be one of patch, tile, {', '.join(PROVIDER_SCHEMES)}, got {scheme!r}")
    text = _checked_multiplier(1 if multiplier is None else multiplier)
    if not isinstance(details, Mapping) or not details:
        raise InvalidArgumentError("a patch model needs details={level: {'cap': ..., 'budget': ...}}")
    params = {}
    for level, table in details.items():
        if level not in LEVELS:
            raise InvalidArgumentError(f"detail levels are low, high and original, got {level!r}")
        if not isinstance(table, Mapping) or not set(table) <= {"cap", "budget"} or "cap" not in table:
            raise InvalidArgumentError(f"details[{level!r}] must be {{'cap': int, 'budget': int?}}, got {table!r}")
        checked = {"cap": _checked_int(f"details[{level!r}]['cap']", table["cap"], 1, MAX_CAP)}
        if table.get("budget") is not None:
            checked["budget"] = _checked_int(f"details[{level!r}]['budget']", table["budget"], 1, MAX_BUDGET)
        params[level] = patch_params(level, checked, text, rs.reject_patches_over)
    if auto is None:
        auto = "high" if "high" in params else next(iter(params))
    if auto not in params:
        raise InvalidArgumentError(f"auto must name one of the model's levels {sorted(params)}, got {auto!r}")
    return ModelSpec(scheme="patch", params=MappingProxyType(params), auto=str(auto),
                     multiplier=text, **common)


#: The provider schemes a registration may use (providers.md); "gemini_tiles" is not one: its
#: parameters are Google's alone.
PROVIDER_SCHEMES = ("claude", "mistral", "qwen", "fixed")
_MAX_SIDE_PARAM = 2**31 - 1  # the provider kernels' domain (calc/_kernels.pxd)


def _required(what: str, value: object, low: int, high: int) -> int:
    if value is None:
        raise InvalidArgumentError(f"this scheme needs {what}=")
    return _checked_int(what, value, low, high)


def _registered(name: str, rs: Ruleset, scheme: str, p: DetailParams) -> ModelSpec:
    return ModelSpec(id=name, ruleset=rs.name, scheme=scheme,
                     params=MappingProxyType({"auto": p}), auto="auto", multiplier=None,
                     status="registered", source="register_model()", provider="registered",
                     levels=())


def _qwen_spec(name: str, rs: Ruleset, like: ModelSpec | None, factor: object, lo: object,
               hi: object) -> ModelSpec:
    factor = _required("patch", factor, 1, 1024)
    lo = _required("min_pixels", lo, 1, _MAX_SIDE_PARAM)
    hi = _required("max_pixels", hi, 1, _MAX_SIDE_PARAM)
    # the bound of Model.max_tokens holds when no resized side is clamped up to the factor
    # (calc/bounds.py): max_pixels >= 200 f^2; and the limits must be in order.
    if hi < 200 * factor * factor or lo > hi:
        raise InvalidArgumentError(
            f"max_pixels must be at least 200 * patch^2 ({200 * factor * factor}) and at least "
            f"min_pixels, got min_pixels={lo}, max_pixels={hi}")
    markers = 2 if like is None else like.params[like.auto].markers
    p = DetailParams(level="auto", scheme="qwen", cap=0, budget=0, mult_num=1, mult_den=1,
                     reject_over=0, short_side=0, base=0, per_tile=0, fidelity_square=0,
                     fidelity_other=0, patch=factor, lo=lo, hi=hi, markers=markers,
                     exactness="exact" if like is None else like.params[like.auto].exactness)
    spec = _registered(name, rs, "qwen", p)
    if like is not None:
        spec = replace(spec, provider=like.provider, docs_as_of=like.docs_as_of)
    return spec


def _provider_spec(name: str, rs: Ruleset, scheme: str, base: object,
                   given: Mapping[str, object]) -> ModelSpec:
    allowed = {"claude": {"max_edge", "max_tokens"}, "mistral": {"patch", "max_edge", "merge"},
               "qwen": {"patch", "min_pixels", "max_pixels"}, "fixed": set()}[scheme]
    extra = sorted(key for key, value in given.items() if value is not None and key not in allowed)
    if extra:
        raise InvalidArgumentError(f"scheme {scheme!r} does not take {', '.join(extra)}")
    if scheme == "qwen":
        return _qwen_spec(name, rs, None, given["patch"], given["min_pixels"], given["max_pixels"])
    common: dict[str, Any] = dict(level="auto", scheme=scheme, mult_num=1, mult_den=1,
                                  reject_over=0, short_side=0, per_tile=0, fidelity_square=0,
                                  fidelity_other=0)
    if scheme == "claude":
        p = DetailParams(cap=_required("max_edge", given["max_edge"], 28, _MAX_SIDE_PARAM),
                         budget=_required("max_tokens", given["max_tokens"], 1, _MAX_SIDE_PARAM),
                         base=0, patch=28, **common)
    elif scheme == "mistral":
        p = DetailParams(cap=_required("max_edge", given["max_edge"], 1, _MAX_SIDE_PARAM), budget=0,
                         base=0, patch=_required("patch", given["patch"], 1, 1024),
                         merge=1 if given["merge"] is None else _checked_int("merge", given["merge"], 1, 16),
                         **common)
    else:
        p = DetailParams(cap=0, budget=0, base=_required("base", base, 0, MAX_TOKENS_PARAM),
                         **common)
    return _registered(name, rs, scheme, p)
