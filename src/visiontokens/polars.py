"""visiontokens as a Polars expression: ``df.with_columns(image_tokens=...)``.

>>> import polars as pl
>>> from visiontokens.polars import image_tokens
>>> df = pl.DataFrame({"w": [1024, 2048], "h": [1024, 4096], "model": ["gpt-4o", "gpt-4.1-mini"]})
>>> df.select(image_tokens("w", "h", pl.col("model"), "high"))["image_tokens"].to_list()
[765, 2...]

Needs the ``polars`` extra (``pip install 'visiontokens[polars]'``). Not imported by
``import visiontokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Sequence

from .calc import engines as _engines

if TYPE_CHECKING:
    import polars as pl

__all__ = ["image_tokens"]


def image_tokens(width: str | pl.Expr, height: str | pl.Expr, model: str | pl.Expr,
                 detail: str | pl.Expr = "auto", *, ruleset: str | None = None,
                 on_error: Literal["raise", "null"] = "raise") -> pl.Expr:
    """A Polars expression: the input tokens of each row's image, as Int64.

    ``width`` and ``height`` are column names or expressions. ``model`` and ``detail`` are a
    model id / detail level for every row (a str, as in ``count_image_tokens_batch``) or an
    expression such as ``pl.col("model")`` for one per row; a categorical or enum column is
    resolved once per category. A null in any input gives a null. ``on_error="null"`` gives a
    null for a row that cannot be counted instead of failing the query.

    The expression is elementwise (``map_batches(..., is_elementwise=True)``), so it runs in
    the streaming engine, a batch at a time, and in ``group_by`` contexts row by row.

    ``ruleset`` names the dated ruleset (default: the newest). The result is an ``Int64``
    expression named ``image_tokens``.
    """
    import polars as pl

    _engines.check_on_error(on_error)
    inputs: list[pl.Expr] = [pl.col(width) if isinstance(width, str) else width,
                             pl.col(height) if isinstance(height, str) else height]
    per_row_model, per_row_detail = isinstance(model, pl.Expr), isinstance(detail, pl.Expr)
    inputs += [value for value in (model, detail) if isinstance(value, pl.Expr)]

    def tokens(series: Sequence[Any]) -> Any:
        columns = iter(series[2:])
        out = _engines.count(series[0], series[1],
                             next(columns) if per_row_model else model,
                             next(columns) if per_row_detail else detail, ruleset, on_error)
        if on_error == "null":
            out, rejected = out
            out = out.scatter(rejected.arg_true(), None) if rejected.any() else out
        return out

    expression: pl.Expr = pl.map_batches(inputs, tokens, return_dtype=pl.Int64,
                                          is_elementwise=True).alias("image_tokens")
    return expression
