"""What the engine integrations (polars.py, duckdb.py, dask.py) share: the one batch call,
and the on_error choices a query engine needs."""

from __future__ import annotations

from typing import Any

from .._errors import VisionTokensError, choice_option

#: "raise": a row that cannot be counted fails the query, with the row's own error;
#: "null": that row's result is null, as a SQL function would give.
ON_ERROR = ("raise", "null")


def check_on_error(on_error: object) -> None:
    if on_error not in ON_ERROR:
        choice_option("on_error", on_error, ON_ERROR)


def unlocated(error: VisionTokensError) -> VisionTokensError:
    """The error without its batch row: in an engine, the row of a batch is the row of one
    chunk the engine happened to cut, which would mislead."""
    return error if error.row is None else error.unlocated()


def count(widths: Any, heights: Any, model: Any, detail: Any, ruleset: Any, on_error: str) -> Any:
    """count_image_tokens_batch on columns of one engine: (tokens, rejected) of the input's
    kind with on_error="null", tokens with "raise"."""
    from .._extensions import twin

    try:
        return twin("tokens").count_image_tokens_batch(widths, heights, model, detail, ruleset=ruleset,
                                        on_error="mask" if on_error == "null" else "raise")
    except VisionTokensError as error:
        raise unlocated(error) from None
