"""The shipped tables: each ruleset file read once, lazily, and turned into specs.

Files live in ``data/<provider>/<ruleset>.json``. They are read on first use, not at import,
to keep ``import visiontokens`` light; each file is read once per process, and both the input
rules and the output rules of a ruleset are built from that one read.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from .._spec import TILE_SHORT_SIDE
from .files import ruleset_file
from .specs import DetailParams, ModelSpec, OUTPUT_RULES, OutputModelSpec, OutputTable, Ruleset, Undocumented

def multiplier_fraction(text: str) -> tuple[int, int]:
    """"1.62" -> (162, 100): the exact rational of a decimal multiplier (spec 2)."""
    whole, _, decimals = text.partition(".")
    return int(whole + decimals), 10 ** len(decimals)


def patch_params(level: str, table: Mapping[str, int], multiplier: str, reject: int | None) -> DetailParams:
    num, den = multiplier_fraction(multiplier)
    return DetailParams(
        level=level, scheme="patch", cap=table["cap"], budget=table.get("budget", 0),
        mult_num=num, mult_den=den, reject_over=reject or 0, short_side=0, base=0,
        per_tile=0, fidelity_square=0, fidelity_other=0,
    )


def tile_params(entry: Mapping[str, Any], level: str, fit: int) -> DetailParams:
    return DetailParams(
        level=level, scheme="flat" if level == "low" else "tile", cap=fit, budget=0,
        mult_num=1, mult_den=1, reject_over=0,
        short_side=entry.get("short_side", TILE_SHORT_SIDE), base=entry["base"],
        per_tile=entry["per_tile"], fidelity_square=entry.get("fidelity_high_square", 0),
        fidelity_other=entry.get("fidelity_high_other", 0),
    )


def openai_ruleset(name: str) -> Ruleset:
    """A fresh Ruleset of the shipped OpenAI table ``name`` (spec 4), from the one read."""
    data = ruleset_file("openai", name)
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
    # The provider models (providers.md) resolve the same in every OpenAI ruleset; each keeps
    # the date of its own data (docs_as_of). An OpenAI id never collides with theirs.
    from dataclasses import replace

    from .providers import listed_specs

    for spec in listed_specs():
        rs.models.setdefault(spec.id, replace(spec, ruleset=rs.name))
    return rs


def _spec_from_entry(model_id: str, rs: Ruleset, entry: Mapping[str, Any], tile_fit: int) -> ModelSpec:
    common: dict[str, Any] = dict(id=model_id, ruleset=rs.name, status=entry.get("status", "current"),
                                  source=entry.get("source", ""))
    if entry["scheme"] == "patch":
        params = {
            level: patch_params(level, table, entry["multiplier"], rs.reject_patches_over)
            for level, table in entry["details"].items()
        }
        return ModelSpec(
            scheme="patch", params=MappingProxyType(params), auto=entry["auto"],
            multiplier=entry["multiplier"],
            low_same_as_high_assumed=entry.get("low_same_as_high_assumed", False), **common,
        )
    # spec 4.2: tile models take low (base only), high and auto (= high)
    params = {level: tile_params(entry, level, tile_fit) for level in ("low", "high")}
    return ModelSpec(scheme="tile", params=MappingProxyType(params), auto="high",
                     multiplier=None, base=entry["base"], per_tile=entry["per_tile"], **common)


def openai_output_table(name: str) -> OutputTable:
    """The output-token section (spec 6.2) of the shipped OpenAI table ``name``."""
    section = ruleset_file("openai", name)["output_models"]
    models = {model_id: _output_spec(model_id, name, entry, section)
              for entry in section["models"] for model_id in entry["ids"]}
    return OutputTable(name, models, list(section["undocumented"]),
                       section["responses_tool_default_model"],
                       section["responses_tool_default_source"])


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
