"""Model names to rules (spec 3.5): exact id, then alias, then dated snapshot; then a known
undocumented model, refused unless the caller opts in.

Shared by both implementations: the kernels never see a model name, only the integer
parameters this resolution hands them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType

from .._errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    UnknownRulesetError,
    quoted,
    undocumented_model_error,
    unknown_model_error,
)
from .files import DEFAULT_RULESET, SHIPPED
from .load import openai_ruleset
from .memo import LOCK
from .specs import UNDOCUMENTED_POLICIES, ModelSpec, Ruleset, Undocumented


_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}")  # spec 3.5: dated snapshots end so
_MAX_FAMILY = 256  # a family longer than this is no model's: its snapshots are not looked up

_rulesets: dict[str, Ruleset] = {}


def get_ruleset(name: object = None) -> Ruleset:
    if name is None:
        name = DEFAULT_RULESET
    rs = _rulesets.get(name) if type(name) is str else None
    if rs is not None:
        return rs
    if not isinstance(name, str):
        raise ArgumentTypeError(f"ruleset must be a str or None, got {type(name).__name__} {quoted(name)}")
    if name not in SHIPPED:
        raise UnknownRulesetError(
            f"unknown ruleset {quoted(name)}; known rulesets: {', '.join(SHIPPED)}"
        )
    with LOCK:  # loaded once: a registration must never land in a copy that is then replaced
        rs = _rulesets.get(name)
        if rs is None:
            rs = _rulesets[name] = openai_ruleset(name)
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
    for candidate in (name, snapshot_family(name)):
        if candidate is None:
            continue
        spec = rs.models.get(candidate)
        if spec is None and candidate in rs.aliases:
            spec = rs.models.get(rs.aliases[candidate])
        if spec is not None:
            return spec
    # providers.md: Claude, Gemini, Mistral, Qwen and Nova ids in every form people send
    from .providers import resolve_provider  # the provider id grammars load on first use

    spec = resolve_provider(name)
    if spec is not None:
        return replace(spec, ruleset=rs.name)
    return None


def undocumented_entry(rs: Ruleset, name: str) -> tuple[str, Undocumented] | None:
    """(canonical id, entry) when ``name`` is a known undocumented model (spec 3.5). Names
    newer than every guide are looked up in this ruleset's table, then in the newest one's."""
    family = snapshot_family(name)
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
        from .providers import undocumented_provider

        provider = undocumented_provider(name)
        if provider is not None:
            return _undocumented_provider(rs, provider, policy)
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


def _undocumented_provider(rs: Ruleset, found: tuple[str, Undocumented, str],
                           policy: object) -> ModelSpec:
    model_id, entry, vendor = found
    like = _documented(rs, entry.like)
    if policy != "assume" or like is None:
        raise undocumented_model_error(model_id, rs.name, entry.like, entry.evidence,
                                       like is not None, vendor)
    # ASSUMED, by the caller's choice: counted like the closest documented model; every
    # figure says so (assumed_from, evidence, exactness "assumed").
    params = {level: replace(p, exactness="assumed") for level, p in like.params.items()}
    return replace(like, id=model_id, status="undocumented", source=entry.source,
                   assumed_from=like.id, evidence=entry.evidence,
                   params=MappingProxyType(params))


def snapshot_family(name: str) -> str | None:
    # Only the last 11 characters can be the date: matching just them, and never copying a
    # family longer than any model name (_MAX_FAMILY), keeps a 40 MB name cheap.
    cut = len(name) - 11
    if not 0 < cut <= _MAX_FAMILY or not _SNAPSHOT_DATE.fullmatch(name, cut):
        return None
    family = name[:cut]
    return family if "\n" not in family else None


# --- listing -----------------------------------------------------------------------------------

def rulesets() -> tuple[str, ...]:
    """Names of the shipped rulesets, newest (the default) first."""
    return SHIPPED


def models(ruleset: str | None = None) -> tuple[ModelSpec, ...]:
    """Every model of a ruleset (registered ones included), sorted by id."""
    rs = get_ruleset(ruleset)
    with LOCK:  # not while a registration changes the table
        return tuple(rs.models[k] for k in sorted(rs.models))
