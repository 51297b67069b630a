"""Rulesets as data (spec 1, 4), model-name resolution (spec 3.5) and user registrations.

Shared by both implementations: the kernels never see a model name, only the integer
parameters of one :class:`DetailParams`. Adding a model or a ruleset is a data change here.
The JSON tables are read lazily, on first use, to keep ``import visiontokens`` light.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping, ParamSpec, TypeVar

from ..calc._spec import (
    LEVELS,
    MAX_BUDGET,
    MAX_CAP,
    MAX_MULTIPLIER,
    MAX_TOKENS_PARAM,
    TILE_FIT,
    TILE_SHORT_SIDE,
)
from .._errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    UndocumentedModelError,
    UnknownModelError,
    UnknownRulesetError,
    input_fidelity_error,
    quoted,
    undocumented_model_error,
    unknown_model_error,
    unsupported_detail_error,
)

DEFAULT_RULESET = "2026-09"  # spec 1: the default is the newest

_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}")  # spec 3.5: dated snapshots end so
_MAX_FAMILY = 256  # a family longer than this is no model's: its snapshots are not looked up

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

    @property
    def details(self) -> tuple[str, ...]:
        """The detail levels this model accepts, "auto" included."""
        return tuple(level for level in LEVELS if level in self.params) + ("auto",)

    @property
    def has_input_fidelity(self) -> bool:
        return any(p.fidelity_square or p.fidelity_other for p in self.params.values())

    def detail_params(self, detail: object) -> DetailParams:
        """Parameters for a detail string; "auto" (or None) resolves per model (spec 3.4)."""
        if detail is None or detail == "auto":
            return self.params[self.auto]
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


# --- the one cache of what model names resolve to ---------------------------------------------
#: Everything derived from a model name (a calculator twin's resolved Model, an upper bound,
#: the request walk's per-model record) is memoised here and nowhere else, so a registration
#: change clears one dict. Keys tell their users apart: the compiled calculator keys by the
#: bare name (default ruleset) or (ruleset, name), the cheapest lookups from C; every other
#: user keys by a tuple starting with its own tag, e.g. ("bound", ...).
#:
#: Threads (free-threaded builds included): a hit is one dict read, with no lock. Every fill
#: and every registration change holds LOCK, so a value computed from the tables before a
#: change can never be stored after the change cleared the cache (it would be stale for good).
MEMO: dict[object, object] = {}
MEMO_LIMIT = 4096  # names come from requests, and dated snapshots are many: stay bounded
LOCK = threading.RLock()  # re-entrant: filling one entry may fill another (a bound's Model)

_P = ParamSpec("_P")
_T = TypeVar("_T")


def memoised(key: object, make: Callable[..., object], *args: object) -> object:
    """``MEMO[key]``, filled with ``make(*args)`` on a miss; kept until the next registration
    change. Callers try ``MEMO.get(key)`` first: this is the miss path."""
    try:
        hash(key)
    except TypeError:  # an argument of a wrong type (a list ...): make() raises our error
        return make(*args)
    with LOCK:
        value = MEMO.get(key)
        if value is None:
            value = make(*args)
            if len(MEMO) >= MEMO_LIMIT:
                MEMO.clear()
            MEMO[key] = value
    return value


def _locked(function: Callable[_P, _T]) -> Callable[_P, _T]:
    """Run ``function`` holding LOCK: a registration change is atomic to every other thread."""
    @functools.wraps(function)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with LOCK:
            return function(*args, **kwargs)
    return locked


# --- loading the shipped tables ---------------------------------------------------------

_SHIPPED = ("2026-09", "2026-04")
_rulesets: dict[str, Ruleset] = {}


def _multiplier_fraction(text: str) -> tuple[int, int]:
    """"1.62" -> (162, 100): the exact rational of a decimal multiplier (spec 2)."""
    whole, _, decimals = text.partition(".")
    return int(whole + decimals), 10 ** len(decimals)


def _patch_params(level: str, table: Mapping[str, int], multiplier: str, reject: int | None) -> DetailParams:
    num, den = _multiplier_fraction(multiplier)
    return DetailParams(
        level=level, scheme="patch", cap=table["cap"], budget=table.get("budget", 0),
        mult_num=num, mult_den=den, reject_over=reject or 0, short_side=0, base=0,
        per_tile=0, fidelity_square=0, fidelity_other=0,
    )


def _tile_params(entry: Mapping[str, Any], level: str, fit: int) -> DetailParams:
    return DetailParams(
        level=level, scheme="flat" if level == "low" else "tile", cap=fit, budget=0,
        mult_num=1, mult_den=1, reject_over=0,
        short_side=entry.get("short_side", TILE_SHORT_SIDE), base=entry["base"],
        per_tile=entry["per_tile"], fidelity_square=entry.get("fidelity_high_square", 0),
        fidelity_other=entry.get("fidelity_high_other", 0),
    )


def _load(name: str) -> Ruleset:
    import json  # lazily: the tables are read on first use, not at import

    path = os.path.join(os.path.dirname(__file__), "data", "openai", f"{name}.json")
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    rs = Ruleset(data["name"], data["guide_as_of"], data["description"], data["reject_patches_over"])
    for entry in data["models"]:
        for model_id in entry["ids"]:
            rs.models[model_id] = _spec_from_entry(model_id, rs, entry, data["tile_fit"])
    for alias, target in data.get("aliases", {}).items():
        rs.aliases[alias] = target["model"]
    for entry in data.get("undocumented", ()):
        released = entry.get("released", {})
        for model_id in entry.get("ids", ()):
            rs.undocumented[model_id] = Undocumented(entry["like"], entry["evidence"],
                                                     entry["source"], released.get(model_id))
        for prefix in entry.get("prefixes", ()):
            rs.undocumented_prefixes.append(
                (prefix, Undocumented(entry["like"], entry["evidence"], entry["source"])))
    return rs


def _spec_from_entry(model_id: str, rs: Ruleset, entry: Mapping[str, Any], tile_fit: int) -> ModelSpec:
    common: dict[str, Any] = dict(id=model_id, ruleset=rs.name, status=entry.get("status", "current"),
                                  source=entry.get("source", ""))
    if entry["scheme"] == "patch":
        params = {
            level: _patch_params(level, table, entry["multiplier"], rs.reject_patches_over)
            for level, table in entry["details"].items()
        }
        return ModelSpec(
            scheme="patch", params=MappingProxyType(params), auto=entry["auto"],
            multiplier=entry["multiplier"],
            low_same_as_high_assumed=entry.get("low_same_as_high_assumed", False), **common,
        )
    # spec 4.2: tile models take low (base only), high and auto (= high)
    params = {level: _tile_params(entry, level, tile_fit) for level in ("low", "high")}
    return ModelSpec(scheme="tile", params=MappingProxyType(params), auto="high",
                     multiplier=None, base=entry["base"], per_tile=entry["per_tile"], **common)


def get_ruleset(name: object = None) -> Ruleset:
    if name is None:
        name = DEFAULT_RULESET
    rs = _rulesets.get(name) if type(name) is str else None
    if rs is not None:
        return rs
    if not isinstance(name, str):
        raise ArgumentTypeError(f"ruleset must be a str or None, got {type(name).__name__} {quoted(name)}")
    if name not in _SHIPPED:
        raise UnknownRulesetError(
            f"unknown ruleset {quoted(name)}; known rulesets: {', '.join(_SHIPPED)}"
        )
    with LOCK:  # loaded once: a registration must never land in a copy that is then replaced
        rs = _rulesets.get(name)
        if rs is None:
            rs = _rulesets[name] = _load(name)
    return rs


# --- resolution (spec 3.5) ------------------------------------------------------------------

def resolve(name: object, ruleset: object = None, undocumented: object = "error",
            enforce_patch_limit: object = True) -> ModelSpec:
    """The model a name means in a ruleset: exact id, then alias, then dated snapshot; then a
    known undocumented model (spec 3.5), an error unless ``undocumented="assume"``.
    ``enforce_patch_limit=False`` drops the 30,000-patch rejection (spec 3.1 step 4, 8.6)."""
    rs = get_ruleset(ruleset)
    if not isinstance(name, str):
        raise ArgumentTypeError(f"model must be a str, got {type(name).__name__} {quoted(name)}")
    check_policies(undocumented, enforce_patch_limit)
    spec = _documented(rs, name)
    if spec is None:
        spec = _undocumented(rs, name, undocumented)
    if not enforce_patch_limit and any(p.reject_over for p in spec.params.values()):
        spec = replace(spec, params=MappingProxyType(
            {level: replace(p, reject_over=0) for level, p in spec.params.items()}))
    return spec


def check_policies(undocumented: object, enforce_patch_limit: object) -> None:
    """The shared check of the two policy keywords, one message for every entry point."""
    if type(undocumented) is not str or undocumented not in UNDOCUMENTED_POLICIES:
        raise InvalidArgumentError(
            f"undocumented must be 'error' or 'assume', got {quoted(undocumented)}")
    if type(enforce_patch_limit) is not bool:
        raise ArgumentTypeError(
            f"enforce_patch_limit must be True or False, got {quoted(enforce_patch_limit)}")


def _documented(rs: Ruleset, name: str) -> ModelSpec | None:
    for candidate in (name, _snapshot_family(name)):
        if candidate is None:
            continue
        spec = rs.models.get(candidate)
        if spec is None and candidate in rs.aliases:
            spec = rs.models.get(rs.aliases[candidate])
        if spec is not None:
            return spec
    return None


def undocumented_entry(rs: Ruleset, name: str) -> tuple[str, Undocumented] | None:
    """(canonical id, entry) when ``name`` is a known undocumented model (spec 3.5). Names
    newer than every guide are looked up in this ruleset's table, then in the newest one's."""
    family = _snapshot_family(name)
    tables = [rs] if rs.name == DEFAULT_RULESET else [rs, get_ruleset(DEFAULT_RULESET)]
    for table in tables:
        for candidate in (name, family):
            if candidate is not None and candidate in table.undocumented:
                return candidate, table.undocumented[candidate]
        for prefix, entry in table.undocumented_prefixes:
            if name.startswith(prefix):
                return name, entry
    return None


def _undocumented(rs: Ruleset, name: str, policy: object) -> ModelSpec:
    found = undocumented_entry(rs, name)
    if found is None:
        raise unknown_model_error(name, rs.name, list(rs.models) + list(rs.aliases))
    model_id, entry = found
    like = rs.models.get(entry.like)
    if policy != "assume" or like is None:
        raise undocumented_model_error(model_id, rs.name, entry.like, entry.evidence,
                                       like is not None)
    # ASSUMED (spec 3.5), by the caller's choice: counted with the documented model's rule,
    # and every figure says so (assumed_from, evidence).
    return replace(like, id=model_id, status="undocumented", source=entry.source,
                   assumed_from=like.id, evidence=entry.evidence)


def _snapshot_family(name: str) -> str | None:
    # Only the last 11 characters can be the date: matching just them, and never copying a
    # family longer than any model name (_MAX_FAMILY), keeps a 40 MB name cheap.
    cut = len(name) - 11
    if not 0 < cut <= _MAX_FAMILY or not _SNAPSHOT_DATE.fullmatch(name, cut):
        return None
    family = name[:cut]
    return family if "\n" not in family else None


# --- public listing --------------------------------------------------------------------------

def rulesets() -> tuple[str, ...]:
    """Names of the shipped rulesets, newest (the default) first."""
    return _SHIPPED


def models(ruleset: str | None = None) -> tuple[ModelSpec, ...]:
    """Every model of a ruleset (registered ones included), sorted by id."""
    rs = get_ruleset(ruleset)
    with LOCK:  # not while a registration changes the table
        return tuple(rs.models[k] for k in sorted(rs.models))


# --- user registrations (spec 1) -------------------------------------------------------------

def _changed() -> None:
    MEMO.clear()  # (LOCK held: see MEMO)


@_locked
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
    ruleset: str | None = None,
    replace_existing: bool = False,
) -> None:
    """Register a deployment name or a new model, in one ruleset or (by default) in all.

    An alias: ``register_model("prod-vision", like="gpt-4.1-mini")``; it resolves to the
    documented model of each ruleset. A new patch model::

        register_model("acme-vision", scheme="patch", multiplier="1.5",
                       details={"low": {"cap": 512}, "high": {"cap": 2048, "budget": 2500}},
                       auto="high")

    and a new tile model: ``register_model("acme-tiles", scheme="tile", base=85, per_tile=170)``.
    Every parameter is validated (caps <= 65535, multipliers with at most 4 decimals).
    """
    if not isinstance(name, str) or not name:
        raise ArgumentTypeError(f"model name must be a non-empty str, got {name!r}")
    targets = [get_ruleset(ruleset)] if ruleset is not None else [get_ruleset(n) for n in _SHIPPED]
    for rs in targets:
        if not replace_existing and (name in rs.models or name in rs.aliases):
            raise InvalidArgumentError(
                f"model {name!r} already exists in ruleset {rs.name!r}; pass replace_existing=True"
            )
    if like is not None:
        if scheme is not None or details is not None or multiplier is not None:
            raise InvalidArgumentError("pass either like= (an alias) or the model's parameters, not both")
        # Validate the target in every ruleset before changing any (all or nothing).
        resolved = [(rs, resolve(like, rs.name).id) for rs in targets]
        for rs, target in resolved:
            rs.models.pop(name, None)
            rs.aliases[name] = target
    else:
        specs = [(rs, _new_spec(name, rs, scheme, multiplier, details, auto, base, per_tile, short_side))
                 for rs in targets]
        for rs, spec in specs:
            rs.aliases.pop(name, None)
            rs.models[name] = spec
    _changed()


@_locked
def unregister_model(name: str, *, ruleset: str | None = None) -> None:
    """Remove a registration made with :func:`register_model` (shipped models stay)."""
    targets = [get_ruleset(ruleset)] if ruleset is not None else [get_ruleset(n) for n in _SHIPPED]
    for rs in targets:
        rs.aliases.pop(name, None)
        spec = rs.models.get(name)
        if spec is not None and spec.status == "registered":
            del rs.models[name]
    # A replaced shipped model comes back from the data.
    for rs in targets:
        if name not in rs.models:
            shipped = _load(rs.name).models.get(name)
            if shipped is not None:
                rs.models[name] = shipped
    _changed()


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
              base: object, per_tile: object, short_side: object) -> ModelSpec:
    common: dict[str, Any] = dict(id=name, ruleset=rs.name, status="registered",
                                  source="register_model()")
    if scheme == "tile":
        entry = {
            "base": _checked_int("base", base, 0, MAX_TOKENS_PARAM),
            "per_tile": _checked_int("per_tile", per_tile, 0, MAX_TOKENS_PARAM),
            "short_side": _checked_int("short_side", short_side, 1, TILE_FIT),
        }
        params = {level: _tile_params(entry, level, TILE_FIT) for level in ("low", "high")}
        return ModelSpec(scheme="tile", params=MappingProxyType(params), auto="high",
                         multiplier=None, base=entry["base"], per_tile=entry["per_tile"], **common)
    if scheme != "patch":
        raise InvalidArgumentError(f"scheme must be 'patch' or 'tile', got {scheme!r}")
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
        params[level] = _patch_params(level, checked, text, rs.reject_patches_over)
    if auto is None:
        auto = "high" if "high" in params else next(iter(params))
    if auto not in params:
        raise InvalidArgumentError(f"auto must name one of the model's levels {sorted(params)}, got {auto!r}")
    return ModelSpec(scheme="patch", params=MappingProxyType(params), auto=str(auto),
                     multiplier=text, **common)




# --- output image models (spec 6.2) ------------------------------------------------------------
# What a generated image costs, as data like everything above: the gpt-image-1 table, the
# partial-image cost and the gpt-image-2 flexible-size rule (EMPIRICAL, flagged so in the
# data). Read from the same ruleset files, lazily, on the first output-token call.

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


_output_tables: dict[str, OutputTable] = {}


def _output_spec(model_id: str, rs: str, entry: Mapping[str, Any], common: Mapping[str, Any]) -> OutputModelSpec:
    fixed = dict(id=model_id, ruleset=rs, partial_image_tokens=common["partial_image_tokens"],
                 partial_images_max=common["partial_images_max"], n_max=common["n_max"],
                 input_fidelity=entry["input_fidelity"], empirical=entry.get("empirical", False),
                 evidence=entry.get("evidence", ""), source=entry.get("source", ""))
    if entry["rule"] == "table":
        cells = entry["table"]
        sizes = tuple(next(iter(cells.values())))
        if any(tuple(row) != sizes for row in cells.values()):  # a data error, caught in tests
            raise ValueError(f"{model_id}: every quality of the table needs the same sizes")
        return OutputModelSpec(
            rule="table", qualities=tuple(cells), sizes=sizes,
            cells=MappingProxyType({q: MappingProxyType(dict(row)) for q, row in cells.items()}),
            quality_factors=MappingProxyType({}), pixel_offset=0, divisor=1, size_multiple=1,
            long_side_max=0, ratio_max=0, pixels_min=0, pixels_max=0, **fixed)
    if entry["rule"] != "flexible":
        raise ValueError(f"{model_id}: output rule must be one of {OUTPUT_RULES}")
    factors = entry["quality_factors"]
    return OutputModelSpec(
        rule="flexible", qualities=tuple(factors), sizes=(), cells=MappingProxyType({}),
        quality_factors=MappingProxyType(dict(factors)), pixel_offset=entry["pixel_offset"],
        divisor=entry["divisor"], size_multiple=entry["size_multiple"],
        long_side_max=entry["long_side_max"], ratio_max=entry["ratio_max"],
        pixels_min=entry["pixels_min"], pixels_max=entry["pixels_max"], **fixed)


def output_table(ruleset: object = None) -> OutputTable:
    """The output-token section of a ruleset, loaded once."""
    rs = get_ruleset(ruleset)  # the same checks and errors as for input models
    table = _output_tables.get(rs.name)
    if table is None:
        import json

        path = os.path.join(os.path.dirname(__file__), "data", "openai", f"{rs.name}.json")
        with open(path, encoding="utf-8") as file:
            section = json.load(file)["output_models"]
        models = {model_id: _output_spec(model_id, rs.name, entry, section)
                  for entry in section["models"] for model_id in entry["ids"]}
        table = _output_tables[rs.name] = OutputTable(
            rs.name, models, list(section["undocumented"]),
            section["responses_tool_default_model"], section["responses_tool_default_source"])
    return table


def _undocumented_output(table: OutputTable, name: str) -> Mapping[str, Any] | None:
    """The data's record for a known but undocumented image model (spec 3.5), if ``name``
    is one: listed by id, or by a family prefix such as "gpt-image-2.5-" (which also
    matches the bare "gpt-image-2.5")."""
    for entry in table.undocumented:
        if name in entry.get("ids", ()):
            return entry
        for prefix in entry.get("prefixes", ()):
            if name.startswith(prefix) or name == prefix.rstrip("-"):
                return entry
    return None


def resolve_output(name: object, ruleset: object = None, undocumented: object = "error") -> OutputModelSpec:
    """The output-token rule a model name means (spec 6.2, names as spec 3.5): exact id, then
    dated snapshot; a known undocumented model is an UndocumentedModelError naming the
    closest documented model, or with ``undocumented="assume"`` that model's rule, marked
    as assumed."""
    check_policies(undocumented, True)
    table = output_table(ruleset)
    if not isinstance(name, str):
        raise ArgumentTypeError(f"model must be a str, got {type(name).__name__}")
    for candidate in (name, _snapshot_family(name)):
        if candidate is None:
            continue
        spec = table.models.get(candidate)
        if spec is not None:
            return spec
        entry = _undocumented_output(table, candidate)
        if entry is not None:
            like = table.models[entry["like"]]
            if undocumented == "assume":
                from dataclasses import replace

                return replace(like, id=candidate, assumed_from=like.id, empirical=like.empirical,
                               evidence=entry["evidence"], source=entry["source"],
                               input_fidelity=entry.get("input_fidelity", like.input_fidelity),
                               status="undocumented")
            from .._errors import quoted

            raise UndocumentedModelError(
                f"{quoted(name)} is an image model whose output tokens OpenAI does not document "
                f"(spec 3.5); the closest documented model is {like.id!r} (evidence that it "
                f"costs the same: {entry['evidence']}); pass undocumented='assume' to count it "
                f"like {like.id!r}", name, (like.id,))
    from .._errors import closest, quoted

    # Only a short name is compared: difflib on a 40 MB name would take minutes.
    suggestions = closest(name, table.models) if len(name) <= 100 else []
    hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
    raise UnknownModelError(
        f"unknown image generation model {quoted(name)} in ruleset {table.ruleset!r}{hint} "
        f"(output tokens are known for {', '.join(table.models)})", name, suggestions)


def output_models(ruleset: str | None = None) -> tuple[OutputModelSpec, ...]:
    """Every documented image-generation model of a ruleset, sorted by id."""
    table = output_table(ruleset)
    return tuple(table.models[k] for k in sorted(table.models))


__all__ = [
    "DEFAULT_RULESET", "DetailParams", "ModelSpec", "Ruleset", "Undocumented", "get_ruleset",
    "models", "register_model", "resolve", "rulesets", "unregister_model",
    "OutputModelSpec", "output_models", "output_table", "resolve_output",
]
