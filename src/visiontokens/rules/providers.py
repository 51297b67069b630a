"""Models beyond OpenAI (``shared/providers.md``): Anthropic Claude, Google Gemini, Mistral,
Qwen and Amazon Nova 2 Lite, as dated data in ``data/<provider>/<date>.json``.

The provider tables are read once, lazily, and their models resolve the same in every OpenAI
ruleset (an OpenAI ruleset is a version of OpenAI's guide; the provider data has its own date,
which every result carries as ``docs_as_of``). Model ids are recognised in the forms people
send (providers 1.4 for Claude; ``models/``, ``gemini/``, ``vertex_ai/`` for Gemini; API and
Hugging Face ids for Mistral and Qwen; Bedrock ids for Nova). An id of a provider's pattern
that the rules cannot place is undocumented: refused unless ``undocumented="assume"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

from .files import ruleset_file
from .memo import LOCK
from .specs import DetailParams, ModelSpec, Undocumented

#: provider -> the date of the docs its data follows (the file data/<provider>/<date>.json)
PROVIDER_DATA = {"anthropic": "2026-11", "google": "2026-11", "mistral": "2026-11",
                 "qwen": "2026-11", "amazon": "2026-11"}

#: Every figure's label in the data -> the exactness a result reports.
_EXACTNESS = {"documented": "exact", "documented_maximum": "documented_maximum",
              "assumed": "assumed", "empirical": "empirical"}


@dataclass
class ProviderModels:
    """Every shipped provider model, by canonical id, and how to read the other forms."""

    specs: dict[str, ModelSpec] = field(default_factory=dict)
    lowered: dict[str, str] = field(default_factory=dict)  # lower-case id or HF id -> canonical
    vendors: dict[str, str] = field(default_factory=dict)  # provider -> "Anthropic" ...
    undocumented: dict[str, tuple[str, Undocumented]] = field(default_factory=dict)  # provider ->
    undocumented_ids: dict[str, Undocumented] = field(default_factory=dict)
    undocumented_prefixes: list[tuple[str, Undocumented]] = field(default_factory=list)
    claude_tiers: dict[str, ModelSpec] = field(default_factory=dict)  # tier -> a template spec
    claude_high_from: tuple[int, int] = (4, 7)
    claude_families: tuple[str, ...] = ()
    gemini_generations: dict[str, ModelSpec] = field(default_factory=dict)
    qwen_families: list[tuple[str, ModelSpec]] = field(default_factory=list)  # prefix -> spec


_loaded: list[ProviderModels] = []


def provider_models() -> ProviderModels:
    """The provider tables, built once from one read of each file."""
    if _loaded:
        return _loaded[0]
    with LOCK:
        if not _loaded:
            _loaded.append(_build())
    return _loaded[0]


def _params(level: str, entry: Mapping[str, Any]) -> DetailParams:
    """One level's integers from a data entry (see each file's fields)."""
    scheme = entry["scheme"]
    common: dict[str, Any] = dict(level=level, mult_num=1, mult_den=1, reject_over=0,
                                  fidelity_square=0, fidelity_other=0,
                                  exactness=_EXACTNESS[entry["label"]])
    if scheme == "claude":
        return DetailParams(scheme="claude", cap=entry["max_edge"], budget=entry["max_tokens"],
                            short_side=0, base=0, per_tile=0, patch=entry["patch"], **common)
    if scheme == "gemini_tiles":
        return DetailParams(scheme="gemini_tiles", cap=0, budget=0, short_side=entry["small"],
                            base=entry["small_tokens"], per_tile=entry["per_tile"],
                            lo=entry["unit_min"], hi=entry["unit_max"], **common)
    if scheme == "fixed":
        return DetailParams(scheme="fixed", cap=0, budget=0, short_side=0, base=entry["tokens"],
                            per_tile=0, **common)
    if scheme == "mistral":
        return DetailParams(scheme="mistral", cap=entry["max_image_size"], budget=0, short_side=0,
                            base=0, per_tile=0, patch=entry["patch"], merge=entry["merge"], **common)
    if scheme == "qwen":
        return DetailParams(scheme="qwen", cap=0, budget=0, short_side=0, base=0, per_tile=0,
                            patch=entry["factor"], lo=entry["min_pixels"], hi=entry["max_pixels"],
                            markers=entry["marker_tokens"], **common)
    raise ValueError(f"unknown provider scheme {scheme!r}")  # a data error, caught in tests


def _spec(model_id: str, provider: str, data: Mapping[str, Any], scheme: str,
          params: Mapping[str, DetailParams], auto: str, levels: tuple[str, ...], source: str,
          tier: str | None = None, spellings: Mapping[str, str] | None = None) -> ModelSpec:
    return ModelSpec(id=model_id, ruleset="", scheme=scheme, params=MappingProxyType(dict(params)),
                     auto=auto, multiplier=None, status="current", source=source,
                     provider=provider, docs_as_of=data["docs_as_of"], tier=tier, levels=levels,
                     spellings=spellings)


def _build() -> ProviderModels:
    out = ProviderModels()
    files = {name: ruleset_file(name, date) for name, date in PROVIDER_DATA.items()}
    for name, data in files.items():
        out.vendors[name] = data["vendor"]

    # Anthropic (providers 1): one level, "auto"; detail does not apply.
    data = files["anthropic"]
    for tier, entry in data["tiers"].items():
        out.claude_tiers[tier] = _spec(f"<claude {tier}>", "anthropic", data, "claude",
                                       {"auto": _params("auto", entry)}, "auto", (),
                                       entry["source"], tier)
    major, minor = data["high_from_version"]
    out.claude_high_from = (int(major), int(minor))
    out.claude_families = tuple(data["families"])
    for entry in data["models"]:
        template = out.claude_tiers[entry["tier"]]
        for model_id in entry["ids"]:
            out.specs[model_id] = _with_label(replace(template, id=model_id, source=entry["source"]),
                                              entry["label"])
    und = data["undocumented"]
    out.undocumented["anthropic"] = (und["like"], Undocumented(und["like"], und["evidence"], und["source"]))

    # Google Gemini (providers 2): levels per generation.
    data = files["google"]
    spellings = MappingProxyType(dict(data["spellings"]))
    for generation, gen in data["generations"].items():
        params = {level: _params(level, data["levels"][key]) for level, key in gen["levels"].items()}
        if not params:  # Gemini 1.0: one flat count, detail does not apply
            params = {"auto": _params("auto", data["levels"][gen["default"]])}
            auto, levels = "auto", ()
        else:
            auto = next(level for level, key in gen["levels"].items() if key == gen["default"])
            levels = tuple(gen["levels"])
        source = "; ".join(sorted({data["levels"][k]["source"] for k in
                                   (gen["levels"].values() or [gen["default"]])}))
        out.gemini_generations[generation] = _spec(
            gen["example"], "google", data, gen["scheme"], params, auto, levels, source,
            spellings=spellings if levels else None)
    for entry in data["models"]:
        template = out.gemini_generations[entry["generation"]]
        for model_id in entry["ids"]:
            out.specs[model_id] = replace(template, id=model_id)
    und = data["undocumented"]
    out.undocumented["google"] = (und["like"], Undocumented(und["like"], und["evidence"], und["source"]))

    # Mistral (providers 3): one level; API ids and Hugging Face ids.
    data = files["mistral"]
    for entry in data["models"]:
        params = {"auto": _params("auto", dict(entry, scheme="mistral"))}
        canonical = entry["ids"][0]
        for model_id in entry["ids"]:
            out.specs[model_id] = _spec(model_id, "mistral", data, "mistral", params, "auto", (),
                                        entry["source"])
        for hf in entry.get("hf", ()):
            out.lowered[hf.lower()] = canonical
    und = data["undocumented"]
    entry_und = Undocumented(und["like"], und["evidence"], und["source"])
    for model_id in und["ids"]:
        out.undocumented_ids[model_id] = entry_und
    for prefix in und["prefixes"]:
        out.undocumented_prefixes.append((prefix, entry_und))

    # Qwen (providers 4): families by Hugging Face name; per-model min/max pixels.
    data = files["qwen"]
    for family in data["families"]:
        params = {"auto": _params("auto", dict(family, scheme="qwen",
                                               marker_tokens=data["marker_tokens"]))}
        spec = _spec(family["id"], "qwen", data, "qwen", params, "auto", (), family["source"])
        for prefix in family["prefixes"]:
            out.qwen_families.append((prefix, spec))
        for example in family["examples"]:
            out.specs[example] = replace(spec, id=example)

    # Amazon (providers 5): Nova 2 Lite, a documented flat count.
    data = files["amazon"]
    for entry in data["models"]:
        params = {"auto": _params("auto", dict(entry, scheme="fixed"))}
        for model_id in entry["ids"]:
            out.specs[model_id] = _spec(model_id, "amazon", data, "fixed", params, "auto", (),
                                        entry["source"])

    for model_id in out.specs:
        out.lowered.setdefault(model_id.lower(), model_id)
    return out


def _with_label(spec: ModelSpec, label: str) -> ModelSpec:
    exactness = _EXACTNESS[label]
    if exactness == "exact":
        return spec
    return replace(spec, params=MappingProxyType(
        {level: replace(p, exactness=exactness) for level, p in spec.params.items()}))


# --- id forms -----------------------------------------------------------------------------------

_LITELLM = re.compile(r"^(?:anthropic|bedrock(?:/converse|/invoke)?|vertex_ai|openrouter)/")
_BEDROCK_REGION = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?anthropic\.(?=claude-)")
_CLAUDE_SUFFIX = re.compile(r"(?:@\d{8}|@latest|-v\d+(?::\d+)?|-\d{8}|-latest)$")
_CLAUDE_NEW = re.compile(r"^claude-([a-z]+)-(\d{1,2})(?:-(\d{1,2}))?$")
_CLAUDE_OLD = re.compile(r"^claude-(\d{1,2})(?:-(\d{1,2}))?-([a-z]+)$")
_GEMINI_PREFIX = re.compile(r"^(?:models/|gemini/|vertex_ai/|google/|publishers/google/models/)+")
_GEMINI = re.compile(r"^gemini-(?:(\d{1,2})(?:\.(\d{1,2}))?-)?([a-z].*)$")
_MAX_ID = 256  # an id longer than this is no provider model's: not parsed


def claude_id(name: str) -> str | None:
    """The first-party form of a Claude id in any form (providers 1.4 steps 1-2), or None
    when ``name`` is not a Claude id: ``us.anthropic.claude-opus-4-7-v1:0`` ->
    ``claude-opus-4-7``."""
    if len(name) > _MAX_ID:
        return None
    text = _LITELLM.sub("", name.strip().lower(), count=1)
    text = _BEDROCK_REGION.sub("", text, count=1)
    if not text.startswith("claude-"):
        return None
    for _ in range(3):  # '-v1:0', then a date, then '-latest' may each follow the other
        text = _CLAUDE_SUFFIX.sub("", text)
    return text.replace(".", "-")


def claude_version(first_party: str, families: tuple[str, ...]) -> tuple[str, int, int] | None:
    """(family, major, minor) of a first-party Claude id (providers 1.4 step 3), or None."""
    match = _CLAUDE_NEW.match(first_party)
    if match and match[1] in families:
        return match[1], int(match[2]), int(match[3] or 0)
    match = _CLAUDE_OLD.match(first_party)
    if match and match[3] in families:
        return match[3], int(match[1]), int(match[2] or 0)
    return None


def gemini_id(name: str) -> tuple[str, str | None] | None:
    """(bare id, generation) of a Gemini id, or None when ``name`` is not one; the generation
    is None when the id names none the data documents."""
    if len(name) > _MAX_ID:
        return None
    text = _GEMINI_PREFIX.sub("", name.strip().lower(), count=1)
    text = text.split("@", 1)[0]  # a Vertex version
    if not text.startswith("gemini-"):
        return None
    if text in ("gemini-pro-vision", "gemini-1.0-pro-vision") or text.startswith("gemini-1.0-pro-vision-"):
        return text, "1.0"
    match = _GEMINI.match(text)
    if match is None or match[1] is None:
        return text, None
    major, minor = int(match[1]), int(match[2] or 0)
    if major == 1 and minor == 0:
        return text, "1.0" if "vision" in match[3] else None
    if major == 1 and minor == 5:
        return text, "1.5"
    if major == 2 and minor in (0, 5):
        return text, f"2.{minor}"
    if major == 3:
        return text, "3"  # "Gemini 3 models" (media-resolution page): every 3.x
    return text, None


def _strip_hub(name: str) -> str:
    text = name.strip()
    for prefix in ("hosted_vllm/", "openrouter/", "mistral/", "huggingface/"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
            break
    return text


def resolve_provider(name: str) -> ModelSpec | None:
    """The shipped provider model ``name`` means, with its own id; None when ``name`` is no
    documented provider model (it may still be a known undocumented one)."""
    if len(name) > _MAX_ID:  # no provider id is this long: never copy or lower-case it
        return None
    table = provider_models()
    spec = table.specs.get(name)
    if spec is not None:
        return spec
    claude = claude_id(name)
    if claude is not None:
        spec = table.specs.get(claude)
        if spec is not None:
            return spec
        version = claude_version(claude, table.claude_families)
        if version is None:
            return None  # undocumented (providers 1.4: ASSUMED standard, by the caller's choice)
        family, major, minor = version
        high = (major, minor) >= table.claude_high_from
        spec = replace(table.claude_tiers["high" if high else "standard"], id=claude)
        # ASSUMED (providers 1.4): no Haiku at or above 4.7 is named in the tier table
        return _with_label(spec, "assumed") if high and family == "haiku" else spec
    gemini = gemini_id(name)
    if gemini is not None:
        bare, generation = gemini
        if generation is None:
            return None
        spec = table.specs.get(bare)
        return spec if spec is not None else replace(table.gemini_generations[generation], id=bare)
    hub = _strip_hub(name)
    lowered = hub.lower()
    canonical = table.lowered.get(lowered)
    if canonical is not None:
        return table.specs[canonical]
    nova = _nova_id(lowered)
    if nova is not None:
        return table.specs.get(nova)
    bare = lowered[5:] if lowered.startswith("qwen/") else lowered
    for prefix, qwen_family in table.qwen_families:
        if bare.startswith(prefix) and len(bare) > len(prefix):
            return replace(qwen_family, id=hub if lowered.startswith("qwen/") else "Qwen/" + hub)
    return None


_NOVA = re.compile(r"^(?:bedrock/)?(?:[a-z]{2,6}\.)?(amazon\.nova-2-lite-v1)(?::0)?$")


def _nova_id(lowered: str) -> str | None:
    match = _NOVA.match(lowered)
    return f"{match[1]}:0" if match else None


def undocumented_provider(name: str) -> tuple[str, Undocumented, str] | None:
    """(id, entry, vendor) when ``name`` is a provider's model whose rule the data cannot
    place: a Claude id with no parsable version, a Gemini id of no documented generation, a
    Mistral model without a published image config."""
    if len(name) > _MAX_ID:
        return None
    table = provider_models()
    claude = claude_id(name)
    if claude is not None:
        return claude, table.undocumented["anthropic"][1], table.vendors["anthropic"]
    gemini = gemini_id(name)
    if gemini is not None:
        return gemini[0], table.undocumented["google"][1], table.vendors["google"]
    lowered = _strip_hub(name).lower()
    if len(lowered) <= _MAX_ID:
        entry = table.undocumented_ids.get(lowered)
        if entry is None:
            entry = next((e for p, e in table.undocumented_prefixes if lowered.startswith(p)), None)
        if entry is not None:
            return lowered, entry, table.vendors["mistral"]
    return None


def listed_specs() -> list[ModelSpec]:
    """Every provider model the data names, for the OpenAI rulesets' listings."""
    return list(provider_models().specs.values())
