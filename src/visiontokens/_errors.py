"""One exception hierarchy for both implementations.

Every error subclasses :class:`VisionTokensError` and the matching builtin (``ValueError``,
or ``TypeError`` for an argument of the wrong type), so callers can catch either. The
message builders below are shared by the Cython core and the pure-Python reference, which is
what makes their messages identical by construction.
"""

from __future__ import annotations


from typing import Iterable, Sequence

from ._spec import MAX_DIMENSION

__all__ = [
    "VisionTokensError",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "UnknownModelError",
    "UndocumentedModelError",
    "UnknownRulesetError",
    "UnsupportedDetailError",
    "InvalidDimensionsError",
    "DimensionTypeError",
    "ImageRejectedError",
    "InvalidImageError",
    "UnsupportedImageFormatError",
    "TruncatedImageError",
    "CorruptImageError",
    "AnimatedImageError",
    "InvalidDataURLError",
    "MalformedRequestError",
    "RequestLimitError",
    "TooManyImagesError",
    "PayloadTooLargeError",
    "ImageSizeUnknownError",
    "FetchError",
    "BlockedAddressError",
]


class VisionTokensError(Exception):
    """Base of every error this library raises on purpose."""

    #: Row of a batch the error belongs to (set by the batch API), else None.
    row: int | None = None

    def located(self, where: str) -> "VisionTokensError":
        """A copy of this error, its message prefixed with ``where`` (a batch row, a JSON
        pointer), its attributes and cause kept: one error raised where it is understood."""
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        message = self.args[0] if self.args else str(self)
        clone.args = (f"{where}: {message}",) + tuple(self.args[1:])
        clone.__cause__ = self.__cause__
        return clone

    def at_row(self, row: int) -> "VisionTokensError":
        """A copy of this error whose message names the batch row it came from."""
        clone = self.located(f"row {row}")
        clone.row = row
        return clone


class InvalidArgumentError(VisionTokensError, ValueError):
    """An argument has an allowed type but a value outside its domain."""


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument has the wrong type (a number for a model name, say)."""


class UnknownModelError(VisionTokensError, ValueError):
    """The model name matches no model of the ruleset (spec 3.5)."""

    def __init__(self, message: str, model: str = "", suggestions: Sequence[str] = ()):
        super().__init__(message)
        self.model = model
        self.suggestions = tuple(suggestions)


class UndocumentedModelError(UnknownModelError):
    """A real model whose input-token rule OpenAI does not document (spec 3.3, 3.5).

    ``like`` is the closest documented model, the one ``undocumented="assume"`` counts it
    like; ``evidence`` is what that rests on ("measured-auto-only" or "none")."""

    def __init__(self, message: str, model: str = "", suggestions: Sequence[str] = (),
                 like: str | None = None, evidence: str | None = None):
        super().__init__(message, model, suggestions)
        self.like = like
        self.evidence = evidence


class UnknownRulesetError(VisionTokensError, ValueError):
    """No ruleset has that name (spec 1)."""


class UnsupportedDetailError(VisionTokensError, ValueError):
    """The detail level is not a level at all, or not one this model supports (spec 3.4)."""


class InvalidDimensionsError(VisionTokensError, ValueError):
    """A width or height that is not a whole number of pixels in range."""


class DimensionTypeError(InvalidDimensionsError, TypeError):
    """A width or height of the wrong type: a float, a bool, a string ..."""


class ImageRejectedError(VisionTokensError, ValueError):
    """The API would reject the image: too many patches after resizing (spec 3.1 step 4)."""

    def __init__(self, message: str, patches: int = 0, limit: int = 0):
        super().__init__(message)
        self.patches = patches
        self.limit = limit


class InvalidImageError(VisionTokensError, ValueError):
    """Image data whose size cannot be read from its header (spec 5)."""


class UnsupportedImageFormatError(InvalidImageError):
    """Not PNG, JPEG, GIF or WebP. ``format`` names what it is when its magic is known
    ("bmp", "tiff", "heif", "avif", "jpeg2000", "jpegxl", "ico", "psd", "svg", "pdf"), else None."""

    def __init__(self, message: str, format: str | None = None):
        super().__init__(message)
        self.format = format


class TruncatedImageError(InvalidImageError):
    """The data ends before the header does. ``needed`` is how many bytes the parser needed."""

    def __init__(self, message: str, needed: int = 0):
        super().__init__(message)
        self.needed = needed


class CorruptImageError(InvalidImageError):
    """The header contradicts its format (a bad marker, a zero size, an unknown chunk ...)."""


class AnimatedImageError(InvalidImageError):
    """An animated GIF: the API takes non-animated GIF only (spec 5)."""


class InvalidDataURLError(InvalidImageError):
    """A ``data:`` URL that is not ``data:image/...;base64,...`` with valid base64."""


class MalformedRequestError(VisionTokensError, ValueError):
    """A request body that is not a Chat Completions or Responses request (spec 6).
    ``pointer`` is the JSON pointer of the offending value."""

    def __init__(self, message: str, pointer: str = ""):
        super().__init__(message)
        self.pointer = pointer


class RequestLimitError(VisionTokensError, ValueError):
    """The API would refuse the whole request (spec 5)."""


class TooManyImagesError(RequestLimitError):
    """More images than a request may carry (spec 5: 1,500)."""


class PayloadTooLargeError(RequestLimitError):
    """More image bytes than a request may carry (spec 5: 512 MB)."""


class ImageSizeUnknownError(VisionTokensError, ValueError):
    """An image's size cannot be known: not fetched, fetch failed, or no file resolver.
    ``pointer`` names the image; ``__cause__`` holds the fetch error, if any."""

    def __init__(self, message: str, pointer: str = ""):
        super().__init__(message)
        self.pointer = pointer


class FetchError(VisionTokensError, OSError):
    """A remote image could not be fetched: timeout, HTTP error, too many redirects ..."""


class BlockedAddressError(FetchError):
    """SSRF protection: the host resolves to a loopback, private, link-local, multicast,
    reserved or unspecified address, and the fetcher does not allow private addresses."""


# --- message builders, shared by both implementations ---------------------------------



def dimension_error(name: str, value: object) -> InvalidDimensionsError:
    if isinstance(value, bool) or not _is_integer_like(value):
        return DimensionTypeError(
            f"{name} must be an int number of pixels, got {type(value).__name__} {value!r}"
        )
    return InvalidDimensionsError(
        f"{name} must be between 1 and {MAX_DIMENSION} pixels, got {int(value)}"  # type: ignore[call-overload]
    )


def _is_integer_like(value: object) -> bool:
    try:
        value.__index__  # type: ignore[attr-defined]
    except AttributeError:
        return False
    return True


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    import difflib  # only on the error path

    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.6)


def unknown_model_error(name: str, ruleset: str, known: Iterable[str]) -> UnknownModelError:
    suggestions = closest(name, known)
    hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
    return UnknownModelError(
        f"unknown model {name!r} in ruleset {ruleset!r}{hint}", name, suggestions
    )


def undocumented_model_error(name: str, ruleset: str, like: str, evidence: str,
                             like_in_ruleset: bool) -> UndocumentedModelError:
    if like_in_ruleset:
        advice = f"pass undocumented='assume' to count it like {like!r}, marked as assumed"
    else:
        advice = f"ruleset {ruleset!r} has no {like!r} to count it like"
    return UndocumentedModelError(
        f"{name!r} is a known model whose image input cost OpenAI does not document "
        f"(ruleset {ruleset!r}, spec 3.5); the closest documented model is {like!r} "
        f"(evidence: {evidence}); {advice}", name, (like,), like, evidence)


def unsupported_detail_error(model: str, detail: object, supported: Sequence[str]) -> UnsupportedDetailError:
    levels = ", ".join(supported)
    if isinstance(detail, str) and detail in ("low", "high", "original", "auto"):
        return UnsupportedDetailError(
            f"model {model!r} does not support detail {detail!r}; it supports: {levels}"
        )
    return UnsupportedDetailError(
        f"detail must be one of low, high, original, auto (case-sensitive), got {detail!r}"
    )


def rejected_error(model: str, patches: int, limit: int) -> ImageRejectedError:
    return ImageRejectedError(
        f"the API rejects this image for {model!r}: {patches} patches after resizing, "
        f"more than the limit of {limit}",
        patches,
        limit,
    )


def input_fidelity_error(model: str, value: object) -> InvalidArgumentError:
    if value is not None and not isinstance(value, str):
        return ArgumentTypeError(f"input_fidelity must be 'low', 'high' or None, got {value!r}")
    if value in ("low", "high"):
        return InvalidArgumentError(
            f"input_fidelity applies to GPT Image models only, not {model!r}"
        )
    return InvalidArgumentError(f"input_fidelity must be 'low', 'high' or None, got {value!r}")
