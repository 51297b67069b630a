"""visiontokens over a Dask DataFrame: one cost column, computed partition by partition,
on one machine or on a cluster.

>>> import dask.dataframe as dd, visiontokens.dask
>>> logs = dd.read_parquet("logs/")            # width, height, model (and detail) columns
>>> visiontokens.dask.image_tokens(logs).sum().compute()

Needs the ``dask`` extra (``pip install 'visiontokens[dask]'``), and visiontokens installed
on every worker. Not imported by ``import visiontokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .calc import engines as _engines

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["image_tokens"]

NAME = "image_tokens"


def image_tokens(dataframe: dd.DataFrame, width: str = "width", height: str = "height",
                 model: str = "model", detail: str | None = None, *,
                 ruleset: str | None = None,
                 on_error: Literal["raise", "null"] = "raise") -> dd.Series:
    """A Dask Series (nullable ``Int64``, named ``image_tokens``, aligned with ``dataframe``)
    of each row's input tokens.

    ``width``, ``height``, ``model`` and ``detail`` name columns of ``dataframe``; with
    ``detail=None`` every row is ``"auto"``. A null in any of them gives a null.
    ``on_error="null"`` gives a null for a row that cannot be counted instead of failing.
    Each partition is one batch call (``map_partitions``): a categorical or string model
    column is resolved once per distinct value and partition.

    Models added with ``register_model`` exist in the process that registered them: register
    them on the workers too (``client.run``) before computing. ``ruleset`` names the dated
    ruleset (default: the newest).
    """
    import pandas as pd

    _engines.check_on_error(on_error)
    names = [width, height, model] + ([] if detail is None else [detail])
    missing = [n for n in names if n not in dataframe.columns]
    if missing:
        from ._errors import InvalidArgumentError

        raise InvalidArgumentError(f"no column named {', '.join(map(repr, missing))} in the "
                                   f"dataframe (columns: {', '.join(map(str, dataframe.columns))})")
    meta = pd.Series([], dtype="Int64", name=NAME)
    frame: Any = dataframe  # dask's map_partitions carries no type information
    series: dd.Series = frame.map_partitions(_partition, width, height, model, detail, ruleset,
                                             on_error, meta=meta)
    return series


def _partition(frame: Any, width: str, height: str, model: str, detail: str | None,
               ruleset: str | None, on_error: str) -> Any:
    """One partition (a pandas DataFrame) -> its Int64 cost column, on a worker."""
    out = _engines.count(frame[width], frame[height], frame[model],
                         "auto" if detail is None else frame[detail], ruleset, on_error)
    if on_error == "null":
        out, rejected = out
        out = out.mask(rejected.to_numpy())
    return out.astype("Int64").rename(NAME)
