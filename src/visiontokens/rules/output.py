"""Image-generation models to their output-token rules (spec 6.2), names resolved as spec 3.5."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from .._errors import (ArgumentTypeError, UndocumentedModelError, UnknownModelError, closest,
                       keyword_hint, quoted, with_hint)
from .load import openai_output_table
from .memo import LOCK
from .resolution import snapshot_family, check_policies, get_ruleset
from .specs import OutputModelSpec, OutputTable

_output_tables: dict[str, OutputTable] = {}


def output_table(ruleset: object = None) -> OutputTable:
    """The output-token section of a ruleset, built once from the ruleset's one file read."""
    rs = get_ruleset(ruleset)  # the same checks and errors as for input models
    table = _output_tables.get(rs.name)
    if table is None:
        with LOCK:  # filled once, like the input tables
            table = _output_tables.get(rs.name)
            if table is None:
                table = _output_tables[rs.name] = openai_output_table(rs.name)
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
    for candidate in (name, snapshot_family(name)):
        if candidate is None:
            continue
        spec = table.models.get(candidate)
        if spec is not None:
            return spec
        entry = _undocumented_output(table, candidate)
        if entry is not None:
            like = table.models[entry["like"]]
            if undocumented == "assume":
                return replace(like, id=candidate, assumed_from=like.id, empirical=like.empirical,
                               evidence=entry["evidence"], source=entry["source"],
                               input_fidelity=entry.get("input_fidelity", like.input_fidelity),
                               status="undocumented")
            hint = keyword_hint("undocumented", "assume")
            raise with_hint(UndocumentedModelError(
                f"{quoted(name)} is an image model whose output tokens OpenAI does not document"
                f"; the closest documented model is {like.id!r} (evidence that it "
                f"costs the same: {entry['evidence']}); {hint} to count it "
                f"like {like.id!r}", name, (like.id,)), "undocumented", "assume", hint)
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
