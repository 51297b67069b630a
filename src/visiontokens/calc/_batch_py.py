"""The batch entry point in plain Python: a loop over the scalar reference, row by row.

The pure twin of ``_batch_c.pyx`` and its oracle. Both read their arguments through the
same shared code (``_columns.prepare``: numpy, lists, Arrow, pandas, Polars; nulls; model and
detail columns as codes into their distinct values), check them in the same order, and a bad
row raises the scalar path's own error, named by its row, exactly as the compiled batch does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

from .. import rules
from .arguments import check_on_error
from .columns import Labels, prepare
from .._errors import VisionTokensError
from ._tokens_py import count_image_tokens, get_model

IMPLEMENTATION = "python"


def count_image_tokens_batch(widths: Any, heights: Any, model: Any, detail: Any, ruleset: Any,
                             on_error: Any, undocumented: Any = "error", enforce_patch_limit: Any = True,
                             ) -> NDArray[np.int64] | tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """See visiontokens.count_image_tokens_batch."""
    import numpy as np

    check_on_error(on_error)
    rules.get_ruleset(ruleset)
    rules.check_policies(undocumented, enforce_patch_limit)
    options = {"ruleset": ruleset, "undocumented": undocumented,
               "enforce_patch_limit": enforce_patch_limit}
    columns = prepare(widths, heights, model, detail)
    model, detail = columns.model, columns.detail
    if not isinstance(model, Labels):  # one model (and detail) for every row: not a row's error
        get_model(model, **options).spec.detail_params(
            "auto" if isinstance(detail, Labels) else detail)
    w_given, h_given = columns.given
    valid = columns.valid
    n = len(w_given)
    tokens = np.zeros(n, dtype=np.int64)
    rejected = np.zeros(n, dtype=bool)
    for row in range(n):
        if valid is not None and not valid[row]:
            continue  # a null row: null out, neither counted nor rejected
        try:
            tokens[row] = count_image_tokens(
                int(w_given[row]), int(h_given[row]),
                model.value(row) if isinstance(model, Labels) else model,  # type: ignore[arg-type]
                detail.value(row) if isinstance(detail, Labels) else detail,  # type: ignore[arg-type]
                **options,
            )
        except VisionTokensError as error:
            if on_error == "raise":
                raise error.at_row(row) from None
            rejected[row] = True
    # (the numpy types are what a numpy input gets; another kind gets its own kind back)
    return columns.output.wrap(tokens, rejected, valid, on_error == "mask")  # type: ignore[no-any-return]
