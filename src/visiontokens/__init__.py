"""visiontokens: exact input-token counts for images on OpenAI vision models.

>>> import visiontokens
>>> visiontokens.count_image_tokens(1024, 1024, "gpt-4o", "high")
765

The arithmetic runs in a Cython core (``IMPLEMENTATION == "cython"``) or, when the extension
is not built, in the pure-Python reference (``"python"``); both give the same answers and
raise the same errors. Rules are dated data: OpenAI's vision guide and each provider's docs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from .images.sources import ImageInfo
from .rules import DEFAULT_RULESET, ModelSpec, models, register_model, rulesets, unregister_model
from ._results import ImageCost, OutputImageCost

from ._version import __version__ as __version__

_tokens = _twin("tokens")  # the calculator
_request = _twin("request")  # the request walk (it picks the header parser)

#: What each compiled/pure twin runs: {"tokens": "cython", "header": "cython", ...}.
IMPLEMENTATIONS: dict[str, str] = _implementations()
#: "cython" when every twin is compiled, "python" when none is, "mixed" otherwise.
IMPLEMENTATION: str = _summary(IMPLEMENTATIONS)

if TYPE_CHECKING:
    # Type checkers read the annotated pure twins (the propcache pattern): the compiled twins
    # have the same names, signatures and docstrings, which tests/test_signatures.py holds.
    from .calc._output_py import count_output_image_tokens, explain_output_image_tokens
    from .requests._request_py import (
        RequestCount,
        RequestImage,
        SkippedPart,
        count_image,
        count_request,
        count_request_async,
        image_info,
    )
    from .calc._tokens_py import (
        Model,
        count_image_tokens,
        count_image_tokens_batch,
        explain_image_tokens,
        get_model,
    )
else:
    count_image_tokens = _tokens.count_image_tokens
    explain_image_tokens = _tokens.explain_image_tokens
    count_image_tokens_batch = _tokens.count_image_tokens_batch
    get_model = _tokens.get_model
    Model = _tokens.Model

    image_info = _request.image_info
    count_image = _request.count_image
    count_request = _request.count_request
    count_request_async = _request.count_request_async
    RequestCount = _request.RequestCount
    RequestImage = _request.RequestImage
    SkippedPart = _request.SkippedPart

    _output = _twin("output")  # output image tokens (spec 6.2)
    count_output_image_tokens = _output.count_output_image_tokens
    explain_output_image_tokens = _output.explain_output_image_tokens

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


_LAZY = {"reconcile": "reconcile", "Reconciliation": "reconcile",
         "calibrate": "calibrate", "Calibration": "calibrate"}


def __getattr__(name: str) -> object:
    # Fetcher needs httpx, which takes longer to import than all the rest: load it on use.
    if name == "Fetcher":
        from .images.fetch import Fetcher

        return Fetcher
    # The bill: reconcile an estimate with a usage object; calibrate a rule from billed rows
    # (numpy). Loaded on first use, so that `import visiontokens` stays light. Each module is
    # named as its function and callable as it: `visiontokens.reconcile(...)` works whether
    # the attribute is still the function or the module the import system put there.
    module_name = _LAZY.get(name)
    if module_name is not None:
        import importlib

        return getattr(importlib.import_module(f".{module_name}", __name__), name)
    raise AttributeError(f"module 'visiontokens' has no attribute {name!r}")
