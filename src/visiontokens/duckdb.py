"""visiontokens as a DuckDB SQL function: ``SELECT image_tokens(width, height, model, detail)``.

>>> import duckdb, visiontokens.duckdb
>>> con = visiontokens.duckdb.register(duckdb.connect())
>>> con.sql("SELECT image_tokens(1024, 1024, 'gpt-4o', 'high')").fetchall()
[(765,)]

Needs the ``duckdb`` extra (``pip install 'visiontokens[duckdb]'``). Not imported by
``import visiontokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .calc import engines as _engines

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["register"]


def register(connection: DuckDBPyConnection, name: str = "image_tokens", *,
             ruleset: str | None = None,
             on_error: Literal["raise", "null"] = "raise") -> DuckDBPyConnection:
    """Register ``name(width BIGINT, height BIGINT, model VARCHAR, detail VARCHAR) -> BIGINT``
    on a DuckDB connection, and return the connection.

    A vectorised Arrow function: DuckDB hands it a vector of rows at a time (2,048), and each
    distinct model/detail of a vector is resolved once. A NULL in any argument gives NULL
    (pass 'auto' for a request that left detail out). A row that cannot be counted fails
    the query with its own message; with ``on_error="null"`` it gives NULL instead.
    ``name`` is the SQL function's name; ``ruleset`` names the dated ruleset (default: the
    newest).
    """
    _engines.check_on_error(on_error)

    def image_tokens(widths: Any, heights: Any, models: Any, details: Any) -> Any:
        out = _engines.count(widths, heights, models, details, ruleset, on_error)
        if on_error == "null":
            import pyarrow.compute as pc

            out, rejected = out
            out = pc.if_else(rejected, None, out)
        return out

    # duckdb's stubs type these options as its own enums; the strings are what it documents
    untyped: Any = connection
    untyped.create_function(
        name, image_tokens, ["BIGINT", "BIGINT", "VARCHAR", "VARCHAR"], "BIGINT",
        type="arrow",
        null_handling="special",  # our own null rule, the same as every other input kind
        exception_handling="default", side_effects=False)
    return connection
