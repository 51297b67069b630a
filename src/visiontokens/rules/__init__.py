"""The rules: dated data per provider, model resolution, registration and the one cache.

``data/<provider>/<ruleset>.json`` holds the tables (read once, lazily); ``specs`` says what a
rule is; ``resolve`` turns a model name into one; ``register`` adds the caller's own;
``output`` does the same for image-generation models; ``memo`` is the one cache, in
namespaces, that every resolved name lives in.

Each name below loads its module on first use, not when the package is imported: the rule
classes (dataclasses) and the resolution cost milliseconds that ``import visiontokens`` must
not pay (a gateway imports it on its hot path); a name's first use loads them once.
"""

from __future__ import annotations

#: name -> the module of this package that defines it
_HOMES = {
    "LOCK": "memo", "memoised": "memo", "namespace": "memo",
    "DEFAULT_RULESET": "files", "SHIPPED": "files",
    "output_models": "output", "output_table": "output", "resolve_output": "output",
    "register_model": "register", "unregister_model": "register",
    "check_policies": "resolution", "get_ruleset": "resolution", "models": "resolution",
    "resolve": "resolution", "rulesets": "resolution", "undocumented_entry": "resolution",
    "UNDOCUMENTED_POLICIES": "specs", "DetailParams": "specs", "ModelSpec": "specs",
    "OutputModelSpec": "specs", "OutputTable": "specs", "Ruleset": "specs",
    "Undocumented": "specs", "UndocumentedPolicy": "specs", "fidelity_extra": "specs",
}

__all__ = [
    "DEFAULT_RULESET", "SHIPPED", "UNDOCUMENTED_POLICIES", "LOCK", "DetailParams", "ModelSpec",
    "OutputModelSpec", "OutputTable", "Ruleset", "Undocumented", "UndocumentedPolicy",
    "check_policies", "fidelity_extra", "get_ruleset", "memoised", "models", "namespace",
    "output_models", "output_table", "register_model", "resolve", "resolve_output", "rulesets",
    "undocumented_entry", "unregister_model",
]

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from .files import DEFAULT_RULESET, SHIPPED
    from .memo import LOCK, memoised, namespace
    from .output import output_models, output_table, resolve_output
    from .register import register_model, unregister_model
    from .resolution import (check_policies, get_ruleset, models, resolve, rulesets,
                             undocumented_entry)
    from .specs import (UNDOCUMENTED_POLICIES, DetailParams, ModelSpec, OutputModelSpec,
                        OutputTable, Ruleset, Undocumented, UndocumentedPolicy, fidelity_extra)


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # kept: the next use is a plain attribute read
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
