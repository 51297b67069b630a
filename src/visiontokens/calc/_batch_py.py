"""The batch entry point in plain Python: the pure twin of ``_batch_c.pyx``, by name.

The loop itself, row by row over the scalar reference, is ``_tokens_py``'s own
``count_image_tokens_batch``: it lives with the scalar it calls, so the calculator's modules
import one way (this module on ``_tokens_py``, never back). This entry point takes the
arguments as the compiled one does, positionally, and hands them on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

from ._tokens_py import count_image_tokens_batch as _count_batch

IMPLEMENTATION = "python"


def count_image_tokens_batch(widths: Any, heights: Any, model: Any, detail: Any, ruleset: Any,
                             on_error: Any, undocumented: Any = "error", enforce_patch_limit: Any = True,
                             ) -> NDArray[np.int64] | tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """See visiontokens.count_image_tokens_batch."""
    return _count_batch(widths, heights, model, detail, ruleset=ruleset,  # type: ignore[no-any-return]
                        on_error=on_error, undocumented=undocumented,
                        enforce_patch_limit=enforce_patch_limit)
