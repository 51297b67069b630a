"""The batch entry point in plain Python: a loop over the scalar reference, row by row.

The pure twin of ``_batch_c.pyx`` and its oracle: it checks the arguments in the same order
with the same shared helpers (``_arguments``), and a bad row raises the scalar path's own
error, named by its row, exactly as the compiled batch does.
"""

from __future__ import annotations

from typing import Any

from . import _registry
from ._arguments import check_on_error, per_row, size_arrays
from ._errors import VisionTokensError
from ._tokens_py import count_image_tokens, get_model

IMPLEMENTATION = "python"


def count_image_tokens_batch(widths: Any, heights: Any, model: Any, detail: Any,
                             ruleset: Any, on_error: Any, undocumented: Any = "error",
                             enforce_patch_limit: Any = True) -> Any:
    """See visiontokens.count_image_tokens_batch."""
    import numpy as np

    check_on_error(on_error)
    _registry.get_ruleset(ruleset)
    _registry.check_policies(undocumented, enforce_patch_limit)
    options = {"ruleset": ruleset, "undocumented": undocumented,
               "enforce_patch_limit": enforce_patch_limit}
    w_given, h_given, _, _ = size_arrays(widths, heights)
    n = len(w_given)
    model_rows, detail_rows = per_row(model, n, "model"), per_row(detail, n, "detail")
    if model_rows is None:  # one model (and detail) for every row: its errors are not a row's
        get_model(model, **options).spec.detail_params("auto" if detail_rows is not None else detail)
    tokens = np.zeros(n, dtype=np.int64)
    rejected = np.zeros(n, dtype=bool)
    for row in range(n):
        try:
            tokens[row] = count_image_tokens(
                int(w_given[row]), int(h_given[row]),
                model if model_rows is None else model_rows[row],
                detail if detail_rows is None else detail_rows[row],
                **options,
            )
        except VisionTokensError as error:
            if on_error == "raise":
                raise error.at_row(row) from None
            rejected[row] = True
    return tokens if on_error == "raise" else (tokens, rejected)
