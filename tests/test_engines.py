"""The engine integrations, each against the real engine: Polars (eager and streaming),
DuckDB (SQL over a Parquet file), Dask (a LocalCluster with worker processes)."""

from __future__ import annotations

import numpy as np
import pytest
from extras import integration_module

pytestmark = integration_module("pandas", "polars", "duckdb", "dask", "distributed")

import pandas as pd  # after the skip above
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import visiontokens as vt
from visiontokens import InvalidArgumentError, InvalidDimensionsError, UnknownModelError

MODELS = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "o3", "gpt-6-astra", "gpt-4o-mini"]
DETAILS = ["low", "high", "auto"]


def log_table(n: int, seed: int = 13) -> pa.Table:
    """A log table as it comes: int32 sizes, dictionary-encoded model, string detail, some
    nulls (an unknown size, a missing detail)."""
    rng = np.random.default_rng(seed)
    width = rng.integers(1, 5000, n).astype(np.int32)
    height = rng.integers(1, 5000, n).astype(np.int32)
    width_nulls = rng.random(n) < 0.02
    detail_nulls = rng.random(n) < 0.02
    return pa.table({
        "width": pa.array(width, mask=width_nulls),
        "height": pa.array(height),
        "model": pa.array(rng.choice(MODELS, n)).dictionary_encode(),
        "detail": pa.array(rng.choice(DETAILS, n), mask=detail_nulls),
    })


def reference(table: pa.Table) -> list[int | None]:
    """Row by row through the scalar API."""
    rows = zip(*(table.column(c).to_pylist() for c in ("width", "height", "model", "detail")))
    return [None if None in row else vt.count_image_tokens(*row) for row in rows]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    table = log_table(6000)
    path = tmp_path_factory.mktemp("logs") / "logs.parquet"
    pq.write_table(table, path, row_group_size=1000)
    return path, table, reference(table)


# --- Polars ------------------------------------------------------------------------------

def test_polars_expression(logs):
    from visiontokens.polars import image_tokens

    path, table, want = logs
    frame = pl.read_parquet(path)
    out = frame.select(image_tokens("width", "height", pl.col("model"), pl.col("detail")))
    assert out.columns == ["image_tokens"] and out["image_tokens"].dtype == pl.Int64
    assert out["image_tokens"].to_list() == want
    # one model and detail for all rows, as literals; expressions for the sizes
    out = frame.head(50).select(image_tokens(pl.col("width"), pl.col("height") + 0, "gpt-4o", "high"))
    assert out["image_tokens"].to_list() == [
        None if w is None else vt.count_image_tokens(w, h, "gpt-4o", "high")
        for w, h in zip(table["width"].to_pylist()[:50], table["height"].to_pylist()[:50])]


def test_polars_expression_streams(logs, monkeypatch):
    from visiontokens.calc import engines as _engines
    from visiontokens.polars import image_tokens

    path, _table, want = logs
    sizes = []
    count = _engines.count
    monkeypatch.setattr(_engines, "count", lambda w, *a: sizes.append(len(w)) or count(w, *a))
    query = (pl.scan_parquet(path)
             .with_columns(tokens=image_tokens("width", "height", pl.col("model"), pl.col("detail")))
             .select("tokens"))
    out = query.collect(engine="streaming")
    assert out["tokens"].to_list() == want
    # elementwise: the streaming engine fed it the file a morsel at a time, not all at once
    assert len(sizes) > 1 and max(sizes) < len(want) and sum(sizes) == len(want)


def test_polars_errors_and_nulls():
    from visiontokens.polars import image_tokens

    frame = pl.DataFrame({"w": [1024, 0, 5], "h": [1024, 5, 5], "m": ["gpt-4o", "gpt-4o", "nope"]})
    with pytest.raises(InvalidDimensionsError, match="^width must be between"):
        frame.select(image_tokens("w", "h", pl.col("m")))  # no batch row in the message
    out = frame.select(image_tokens("w", "h", pl.col("m"), on_error="null"))
    assert out["image_tokens"].to_list() == [vt.count_image_tokens(1024, 1024, "gpt-4o"), None, None]
    with pytest.raises(InvalidArgumentError, match="on_error"):
        image_tokens("w", "h", "gpt-4o", on_error="mask")


# --- DuckDB ------------------------------------------------------------------------------

def test_duckdb_sql_over_parquet(logs, monkeypatch):
    import duckdb

    import visiontokens.duckdb
    from visiontokens.calc import engines as _engines

    path, _table, want = logs
    calls = []
    count = _engines.count
    monkeypatch.setattr(_engines, "count", lambda w, *a: calls.append(len(w)) or count(w, *a))
    con = visiontokens.duckdb.register(duckdb.connect())
    rows = con.sql(f"SELECT image_tokens(width, height, model, detail) AS t "
                   f"FROM read_parquet('{path}')").fetchall()
    assert [r[0] for r in rows] == want
    assert max(calls) > 1 and len(calls) < len(want)  # vectorised: many rows a call
    total = con.sql(f"SELECT sum(image_tokens(width, height, model, detail)) "
                    f"FROM read_parquet('{path}')").fetchall()[0][0]
    assert total == sum(t for t in want if t is not None)
    grouped = dict(con.sql(f"SELECT model, sum(image_tokens(width, height, model, detail)) "
                           f"FROM read_parquet('{path}') GROUP BY model").fetchall())
    assert grouped["gpt-4o"] == sum(t for t, m in zip(want, _table["model"].to_pylist())
                                    if m == "gpt-4o" and t is not None)


def test_duckdb_errors_nulls_and_names():
    import duckdb

    import visiontokens.duckdb

    con = visiontokens.duckdb.register(duckdb.connect())
    assert con.sql("SELECT image_tokens(1024, 1024, 'gpt-4o', 'high'), "
                   "image_tokens(NULL, 1024, 'gpt-4o', 'high'), "
                   "image_tokens(1024, 1024, 'gpt-4o', NULL)").fetchall()[0] == (765, None, None)
    with pytest.raises(duckdb.Error, match="unknown model 'gpt-4o-mni'"):
        con.sql("SELECT image_tokens(5, 5, 'gpt-4o-mni', 'auto')").fetchall()
    visiontokens.duckdb.register(con, "image_tokens_or_null", on_error="null", ruleset="2026-04")
    assert con.sql("SELECT image_tokens_or_null(5, 5, 'nope', 'auto'), "
                   "image_tokens_or_null(1800, 2400, 'gpt-4.1-mini', 'auto')").fetchall()[0] == (
        None, vt.count_image_tokens(1800, 2400, "gpt-4.1-mini", ruleset="2026-04"))


# --- Dask --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def dask_client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                           dashboard_address=":0", host="127.0.0.1")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_on_a_cluster_equals_the_single_process_batch(tmp_path, dask_client):
    import dask.dataframe as dd

    import visiontokens.dask

    table = log_table(8000, seed=29)
    folder = tmp_path / "dataset"
    folder.mkdir()
    for part in range(4):  # a dataset of several files: several partitions
        pq.write_table(table.slice(part * 2000, 2000), folder / f"part-{part}.parquet")
    frame = dd.read_parquet(str(folder))
    assert frame.npartitions >= 4
    tokens = visiontokens.dask.image_tokens(frame, detail="detail")
    result = tokens.compute()
    assert result.name == "image_tokens" and result.dtype == "Int64"
    single = vt.count_image_tokens_batch(table["width"], table["height"], table["model"],
                                         table["detail"])
    assert [None if v is pd.NA else v for v in result.astype(object).tolist()] == single.to_pylist()
    # the work ran in the worker processes: the batch reader was loaded there
    loaded = dask_client.run(lambda: "visiontokens.calc.columns" in __import__("sys").modules)
    assert len(loaded) == 2 and any(loaded.values())
    total = visiontokens.dask.image_tokens(frame, detail="detail").sum().compute()
    assert total == sum(v for v in single.to_pylist() if v is not None)


def test_dask_arguments(dask_client):
    import dask.dataframe as dd

    import visiontokens.dask

    frame = dd.from_pandas(pd.DataFrame({"w": [1024, 0], "h": [1024, 5], "m": ["gpt-4o", "gpt-4o"]}),
                           npartitions=2)
    with pytest.raises(InvalidArgumentError, match="no column named 'width'"):
        visiontokens.dask.image_tokens(frame)
    out = visiontokens.dask.image_tokens(frame, "w", "h", "m", on_error="null").compute()
    assert out.tolist()[0] == 765 and out.isna().tolist() == [False, True]
    with pytest.raises(InvalidDimensionsError, match="^width must be between"):
        visiontokens.dask.image_tokens(frame, "w", "h", "m").compute()
    with pytest.raises(UnknownModelError):
        visiontokens.dask.image_tokens(frame.assign(m="nope"), "w", "h", "m").compute()
