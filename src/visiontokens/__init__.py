"""visiontokens: exact input-token counts for images on OpenAI vision models.

>>> import visiontokens
>>> visiontokens.count_image_tokens(1024, 1024, "gpt-4o", "high")
765

The arithmetic runs in a Cython core (``IMPLEMENTATION == "cython"``) or, when the extension
is not built, in the pure-Python reference (``"python"``); both give the same answers and
raise the same errors. Rules are dated data: OpenAI's vision guide and each provider's docs.
"""

from __future__ import annotations

from ._extensions import implementations as _implementations
from ._extensions import summary as _summary
from ._extensions import twin as _twin
from .calc.bounds import max_image_tokens
from ._errors import (
    AnimatedImageError,
    ArgumentNotApplicableError,
    ArgumentTypeError,
    AspectRatioError,
    BlockedAddressError,
    CorruptImageError,
    DetailNotApplicableError,
    DimensionTypeError,
    FetchError,
    ImageRejectedError,
    ImageSizeUnknownError,
    InvalidArgumentError,
    InvalidDataURLError,
    InvalidDimensionsError,
    InvalidImageError,
    MalformedRequestError,
    NoUpperBoundError,
    PayloadTooLargeError,
    RequestTooLargeError,
    ImageTooLargeError,
    ImageDimensionsTooLargeError,
    OversizedImageError,
    UnsupportedImageSourceError,
    RequestLimitError,
    TooManyImagesError,
    TruncatedImageError,
    UndocumentedModelError,
    UnknownModelError,
    UnknownRulesetError,
    UnsupportedDetailError,
    UnsupportedImageFormatError,
    UnsupportedQualityError,
    UnsupportedSizeError,
    VisionTokensError,
)

from ._version import __version__ as __version__

# typing (with re and enum, which it imports) would be most of what `import visiontokens`
# costs: the names type checkers read are imported under TYPE_CHECKING, a constant they know
# by name (PEP 781 makes it a built-in for this very reason).
TYPE_CHECKING = False

# The calculator twin is chosen here, at import: a compiled twin missing under
# VISIONTOKENS_REQUIRE_EXTENSIONS fails the import itself. Everything else (the rules' classes,
# the request walk and its walkers, the output calculator, the result classes) loads on first
# use, through __getattr__ below: a gateway imports us on its hot path.
_tokens = _twin("tokens")

if TYPE_CHECKING:
    #: What each compiled/pure twin runs: {"tokens": "cython", "header": "cython", ...}.
    IMPLEMENTATIONS: dict[str, str]
    #: "cython" when every twin is compiled, "python" when none is, "mixed" otherwise.
    IMPLEMENTATION: str

if TYPE_CHECKING:
    # Type checkers read the annotated pure twins (the propcache pattern): the compiled twins
    # have the same names, signatures and docstrings, which tests/test_signatures.py holds.
    from types import ModuleType

    from ._results import ImageCost, OutputImageCost
    from .calc._output_py import count_output_image_tokens, explain_output_image_tokens
    from .calc._tokens_py import (
        Model,
        count_image_tokens,
        count_image_tokens_batch,
        explain_image_tokens,
        get_model,
    )
    from .images.fetch import Fetcher
    from .images.sources import ImageInfo
    from .requests._request_py import (
        RequestCount,
        RequestImage,
        count_image,
        count_request,
        count_request_async,
        image_info,
    )
    from .requests.pricing import SkippedPart
    from .rules import DEFAULT_RULESET, ModelSpec, models, register_model, rulesets, unregister_model

    _request: ModuleType  # the request walk (it picks the header parser)
    _output: ModuleType  # output image tokens
else:
    count_image_tokens = _tokens.count_image_tokens
    explain_image_tokens = _tokens.explain_image_tokens
    count_image_tokens_batch = _tokens.count_image_tokens_batch
    get_model = _tokens.get_model
    Model = _tokens.Model

__all__ = [
    "DEFAULT_RULESET", "IMPLEMENTATION", "IMPLEMENTATIONS", "ImageCost", "Model", "ModelSpec",
    "count_image_tokens", "count_image_tokens_batch", "explain_image_tokens", "get_model",
    "models", "register_model", "rulesets", "unregister_model",
    "VisionTokensError", "InvalidArgumentError", "ArgumentTypeError", "UnknownModelError",
    "UndocumentedModelError", "UnknownRulesetError", "UnsupportedDetailError",
    "InvalidDimensionsError", "DimensionTypeError", "ImageRejectedError",
    "ImageInfo", "image_info", "count_image",
    "InvalidImageError", "UnsupportedImageFormatError", "TruncatedImageError",
    "CorruptImageError", "AnimatedImageError", "InvalidDataURLError",
    "count_request", "count_request_async", "RequestCount", "RequestImage", "SkippedPart",
    "Fetcher",
    "max_image_tokens", "MalformedRequestError", "RequestLimitError", "TooManyImagesError",
    "PayloadTooLargeError", "RequestTooLargeError", "ImageTooLargeError",
    "ImageDimensionsTooLargeError", "OversizedImageError", "UnsupportedImageSourceError",
    "ImageSizeUnknownError", "FetchError", "BlockedAddressError",
    "count_output_image_tokens", "explain_output_image_tokens", "OutputImageCost",
    "UnsupportedSizeError", "UnsupportedQualityError",
    "DetailNotApplicableError", "AspectRatioError", "NoUpperBoundError",
    "ArgumentNotApplicableError",
    "reconcile", "Reconciliation", "calibrate", "Calibration",
]


#: What loads on first use: name -> (where it lives, its name there). A twin ("request",
#: "output") is the process's choice of that twin; anything else is a module of the package.
_LAZY: dict[str, tuple[str, str]] = {
    **{name: ("request", name) for name in (
        "image_info", "count_image", "count_request", "count_request_async", "RequestCount",
        "RequestImage", "SkippedPart")},
    **{name: ("output", name) for name in (
        "count_output_image_tokens", "explain_output_image_tokens")},
    **{name: ("rules", name) for name in (
        "DEFAULT_RULESET", "ModelSpec", "models", "register_model", "rulesets",
        "unregister_model")},
    "ImageInfo": ("images.sources", "ImageInfo"),
    "ImageCost": ("_results", "ImageCost"),
    "OutputImageCost": ("_results", "OutputImageCost"),
    # Fetcher needs httpx, which takes longer to import than all the rest.
    "Fetcher": ("images.fetch", "Fetcher"),
}
#: The twins themselves, by the names the package has always had for them.
_TWINS = {"_request": "request", "_output": "output"}
#: The bill: reconcile an estimate with a usage object; calibrate a rule from billed rows
#: (numpy). Each module is named as its function and callable as it:
#: `visiontokens.reconcile(...)` works whether the attribute is still the function or the
#: module the import system put there.
_BILL = {"reconcile": "reconcile", "Reconciliation": "reconcile",
         "calibrate": "calibrate", "Calibration": "calibrate"}


def __getattr__(name: str) -> object:
    import importlib

    # Which twin each part runs: asking loads every twin (the scanner too), so it is computed
    # on first use, not at import, and kept.
    if name in ("IMPLEMENTATIONS", "IMPLEMENTATION"):
        chosen = _implementations()
        globals().update(IMPLEMENTATIONS=chosen, IMPLEMENTATION=_summary(chosen))
        return globals()[name]
    module_name = _BILL.get(name)
    if module_name is not None:  # (not kept: the import system sets the module's attribute)
        return getattr(importlib.import_module(f".{module_name}", __name__), name)
    value: object
    if name in _TWINS:
        value = _twin(_TWINS[name])
    elif name in _LAZY:
        home, attribute = _LAZY[name]
        module = _twin(home) if home in ("request", "output") else importlib.import_module(
            f".{home}", __name__)
        value = getattr(module, attribute)
    else:
        raise AttributeError(f"module 'visiontokens' has no attribute {name!r}")
    globals()[name] = value  # kept: the next use is a plain attribute read
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_TWINS))
