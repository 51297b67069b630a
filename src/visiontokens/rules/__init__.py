"""The rules: dated data per provider, model resolution, registration and the one cache.

``data/<provider>/<ruleset>.json`` holds the tables (read once, lazily); ``specs`` says what a
rule is; ``resolve`` turns a model name into one; ``register`` adds the caller's own;
``output`` does the same for image-generation models; ``memo`` is the one cache, in
namespaces, that every resolved name lives in.
"""

from .memo import LOCK, memoised, namespace
from .output import output_models, output_table, resolve_output
from .register import register_model, unregister_model
from .resolution import (
    DEFAULT_RULESET,
    SHIPPED,
    check_policies,
    get_ruleset,
    models,
    resolve,
    rulesets,
    undocumented_entry,
)
from .specs import (
    UNDOCUMENTED_POLICIES,
    DetailParams,
    ModelSpec,
    OutputModelSpec,
    OutputTable,
    Ruleset,
    Undocumented,
    UndocumentedPolicy,
    fidelity_extra,
)

__all__ = [
    "DEFAULT_RULESET", "SHIPPED", "UNDOCUMENTED_POLICIES", "LOCK", "DetailParams", "ModelSpec",
    "OutputModelSpec", "OutputTable", "Ruleset", "Undocumented", "UndocumentedPolicy",
    "check_policies", "fidelity_extra", "get_ruleset", "memoised", "models", "namespace",
    "output_models", "output_table", "register_model", "resolve", "resolve_output", "rulesets",
    "undocumented_entry", "unregister_model",
]
