"""visiontokens as a Spark column: ``df.withColumn("image_tokens", image_tokens(...))``.

>>> from pyspark.sql import functions as F
>>> from visiontokens.spark import image_tokens
>>> logs.select(image_tokens("width", "height", F.col("model"), F.col("detail"))).show()

A vectorised pandas UDF (Arrow batches between the JVM and Python): each batch of rows is
one call of the batch core, and each distinct model and detail of a batch is resolved once.
Same rules as ``visiontokens.polars`` and ``visiontokens.duckdb``: a null in any input gives
a null; a row that cannot be counted fails the query, or gives a null with
``on_error="null"``.

Needs the ``spark`` extra (``pip install 'visiontokens[spark]'``), a Java runtime, and
visiontokens installed where the Python workers run. Not imported by ``import visiontokens``.
"""

# No `from __future__ import annotations` here: pyspark reads the UDFs' type hints at
# definition time to know they are Series -> Series functions.

from typing import Any

from .calc import engines as _engines

__all__ = ["image_tokens"]

NAME = "image_tokens"


def _column(value: Any) -> Any:
    from pyspark.sql import functions as F

    return F.col(value) if isinstance(value, str) else value


def image_tokens(width: Any, height: Any, model: Any, detail: Any = "auto", *,
                 ruleset: Any = None, on_error: str = "raise") -> Any:
    """A Spark Column (LongType, named ``image_tokens``): the input tokens of each row's image.

    ``width`` and ``height`` are column names or Columns. ``model`` and ``detail`` are one
    model id / detail level for every row (a str, as in ``count_image_tokens_batch``) or a
    Column (``F.col("model")``) for one per row. A null in any input gives a null (pass
    ``F.coalesce(F.col("detail"), F.lit("auto"))`` for requests that left detail out).
    ``on_error="null"`` gives a null for a row that cannot be counted; with ``"raise"`` the
    query fails with the row's own message (inside Spark's ``PythonException``).

    Models added with ``register_model`` exist in the process that registered them; Spark's
    Python workers are other processes: register them there (at import of a module of yours)
    before the query runs.
    """
    import pandas as pd
    from pyspark.sql import Column
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]

    _engines.check_on_error(on_error)
    if ruleset is not None:
        from .rules import get_ruleset

        get_ruleset(ruleset)  # a bad name fails here, not in a worker
    per_row_model, per_row_detail = isinstance(model, Column), isinstance(detail, Column)
    for name, value, per_row in (("model", model, per_row_model), ("detail", detail, per_row_detail)):
        if not per_row and not isinstance(value, str):
            from ._errors import ArgumentTypeError

            raise ArgumentTypeError(f"{name} must be a str or a pyspark Column, got "
                                    f"{type(value).__name__}")
    inputs = [_column(width), _column(height)]
    inputs += [value for value, per_row in ((model, per_row_model), (detail, per_row_detail))
               if per_row]

    def count(widths: Any, heights: Any, models: Any, details: Any) -> Any:
        out = _engines.count(widths, heights, models, details, ruleset, on_error)
        if on_error == "null":
            out, rejected = out
            out = out.mask(rejected.to_numpy())
        return out.astype("Int64")

    # One UDF per arity: pandas_udf tells a Series -> Series UDF by its type hints.
    if per_row_model and per_row_detail:
        def tokens(w: pd.Series, h: pd.Series, m: pd.Series, d: pd.Series) -> pd.Series:
            return count(w, h, m, d)
    elif per_row_model:
        def tokens(w: pd.Series, h: pd.Series, m: pd.Series) -> pd.Series:  # type: ignore[misc]
            return count(w, h, m, detail)
    elif per_row_detail:
        def tokens(w: pd.Series, h: pd.Series, d: pd.Series) -> pd.Series:  # type: ignore[misc]
            return count(w, h, model, d)
    else:
        def tokens(w: pd.Series, h: pd.Series) -> pd.Series:  # type: ignore[misc]
            return count(w, h, model, detail)

    return pandas_udf(tokens, "long")(*inputs).alias(NAME)
