"""visiontokens: exact input-token counts for images on OpenAI vision models.

>>> import visiontokens
>>> visiontokens.count_image_tokens(1024, 1024, "gpt-4o", "high")
765

The arithmetic runs in a Cython core (``IMPLEMENTATION == "cython"``) or, when the extension
is not built, in the pure-Python reference (``"python"``); both give the same answers and
raise the same errors. Rules follow the dated rulesets of OpenAI's vision guide (spec 1).
"""

from __future__ import annotations

from ._backend import impl as _impl
from ._bounds import max_image_tokens
from ._errors import (
    AnimatedImageError,
    ArgumentTypeError,
    BlockedAddressError,
    CorruptImageError,
    DimensionTypeError,
    FetchError,
    ImageRejectedError,
    ImageSizeUnknownError,
    InvalidArgumentError,
    InvalidDataURLError,
    InvalidDimensionsError,
    InvalidImageError,
    MalformedRequestError,
    PayloadTooLargeError,
    RequestLimitError,
    TooManyImagesError,
    TruncatedImageError,
    UndocumentedModelError,
    UnknownModelError,
    UnknownRulesetError,
    UnsupportedDetailError,
    UnsupportedImageFormatError,
    VisionTokensError,
)
from ._imageformat import ImageInfo
from ._images import count_image, image_info
from ._request import RequestCount, RequestImage, count_request, count_request_async
from ._registry import DEFAULT_RULESET, ModelSpec, models, register_model, rulesets, unregister_model
from ._result import ImageCost

__version__ = "0.1.0"

#: "cython" when the compiled core is in use, "python" for the pure reference.
IMPLEMENTATION: str = _impl.IMPLEMENTATION

count_image_tokens = _impl.count_image_tokens
explain_image_tokens = _impl.explain_image_tokens
count_image_tokens_batch = _impl.count_image_tokens_batch
get_model = _impl.get_model
Model = _impl.Model

__all__ = [
    "DEFAULT_RULESET", "IMPLEMENTATION", "ImageCost", "Model", "ModelSpec",
    "count_image_tokens", "count_image_tokens_batch", "explain_image_tokens", "get_model",
    "models", "register_model", "rulesets", "unregister_model",
    "VisionTokensError", "InvalidArgumentError", "ArgumentTypeError", "UnknownModelError",
    "UndocumentedModelError", "UnknownRulesetError", "UnsupportedDetailError",
    "InvalidDimensionsError", "DimensionTypeError", "ImageRejectedError",
    "ImageInfo", "image_info", "count_image",
    "InvalidImageError", "UnsupportedImageFormatError", "TruncatedImageError",
    "CorruptImageError", "AnimatedImageError", "InvalidDataURLError",
    "count_request", "count_request_async", "RequestCount", "RequestImage", "Fetcher",
    "max_image_tokens", "MalformedRequestError", "RequestLimitError", "TooManyImagesError",
    "PayloadTooLargeError", "ImageSizeUnknownError", "FetchError", "BlockedAddressError",
]


def __getattr__(name: str) -> object:
    # Fetcher needs httpx, which takes longer to import than all the rest: load it on use.
    if name == "Fetcher":
        from ._fetch import Fetcher

        return Fetcher
    raise AttributeError(f"module 'visiontokens' has no attribute {name!r}")
