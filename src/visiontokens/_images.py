"""count_image: the size from the header (spec 5), then the calculator (spec 3)."""

from __future__ import annotations

from typing import Any

from ._backend import header as _header
from ._backend import impl as _impl
from ._errors import AnimatedImageError
from ._result import ImageCost

image_info = _header.image_info


def count_image(source: Any, model: str, detail: str = "auto", *, ruleset: str | None = None,
                input_fidelity: str | None = None) -> ImageCost:
    """What an image costs, its size read from its header: bytes, a path, a binary file or
    a ``data:image/...;base64,`` URL. An animated GIF is refused (spec 5)."""
    info = image_info(source)
    if info.animated and info.format == "gif":
        raise AnimatedImageError(
            f"animated GIF ({info.width}x{info.height}): the API takes non-animated GIF only")
    return _impl.explain_image_tokens(info.width, info.height, model, detail, ruleset=ruleset,
                                      input_fidelity=input_fidelity)
