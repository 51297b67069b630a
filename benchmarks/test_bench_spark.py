"""The Spark UDF against the Polars expression, on the same rows, in the same run.

Both read one Parquet file (int32 sizes uniform in 1..4096, six models as strings, detail
auto) and sum the image tokens of every row; the figure is rows per second, best of three.
Rows: VISIONTOKENS_BENCH_SPARK_ROWS (default 200,000).

What is gated (in a measured run, `--benchmark-enable`): both give the same sum (always),
and the UDF costs at most SPARK_FACTOR times a trivial pandas UDF (one that returns the
widths) on the same query: Spark's own floor for a pandas UDF, measured in the same run, as
the DuckDB benchmark holds its function to DuckDB's trivial one. The ratio to Polars is
printed and not gated: it is mostly Spark's (the JVM's Parquet read, Arrow batches to a
Python worker and back), it swung from 35x to 81x between two runs on the shared machine.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from extras import integration_module

pytestmark = [integration_module("pyspark", "pandas"), pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")]

import pandas as pd  # noqa: E402  (at module level: pyspark resolves the UDF's type hints here)

N = int(os.environ.get("VISIONTOKENS_BENCH_SPARK_ROWS", "200000"))
MODELS = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "o3", "gpt-6-astra", "gpt-4o-mini"]
#: The UDF may cost at most this many times a trivial pandas UDF on the same query. Measured
#: 0.97x (200,000 rows, 2026-12-04, shared 2-core machine at load 11): Spark's transfer is
#: the whole cost; 2x leaves room for that machine's noise, not for a slower core.
SPARK_FACTOR = 2


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(20261204)
    path = tmp_path_factory.mktemp("spark") / "images.parquet"
    pq.write_table(pa.table({
        "width": rng.integers(1, 4097, N).astype(np.int32),
        "height": rng.integers(1, 4097, N).astype(np.int32),
        "model": pa.array(rng.choice(MODELS, N)),
    }), path, row_group_size=1 << 16)
    return path


@pytest.fixture(scope="module")
def spark():
    import shutil

    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("no Java runtime (apt-get install -y openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    import visiontokens

    os.environ["PYSPARK_PYTHON"] = sys.executable
    src = os.path.dirname(os.path.dirname(visiontokens.__file__))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    session = (SparkSession.builder.master("local[1]").appName("visiontokens-bench")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.driver.memory", "1g")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.python.worker.reuse", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def spark_sum(session, path) -> int:
    from pyspark.sql import functions as F

    from visiontokens.spark import image_tokens

    df = session.read.parquet(str(path))
    return df.agg(F.sum(image_tokens("width", "height", F.col("model"))).alias("t")).collect()[0].t


def polars_sum(path) -> int:
    import polars as pl

    from visiontokens.polars import image_tokens

    frame = pl.scan_parquet(path).select(image_tokens("width", "height", pl.col("model")).sum())
    return int(frame.collect().item())


def best_of(fn, *args, rounds: int = 3) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        value = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, value


def test_spark_udf(benchmark, spark, parquet):
    total = benchmark.pedantic(spark_sum, (spark, parquet), rounds=1, iterations=1)
    assert total == polars_sum(parquet)


def trivial_sum(session, path) -> int:
    """Spark's own cost of a pandas UDF on the same query: one that returns the widths."""
    from pyspark.sql import functions as F

    @F.pandas_udf("long")
    def widths(w: pd.Series, h: pd.Series, m: pd.Series) -> pd.Series:
        return w.astype("int64")

    df = session.read.parquet(str(path))
    return df.agg(F.sum(widths("width", "height", "model")).alias("t")).collect()[0].t


def test_spark_vs_polars(measured, spark, parquet):
    spark_sum(spark, parquet)  # the worker started and visiontokens imported in it
    trivial_sum(spark, parquet)
    spark_s, spark_total = best_of(spark_sum, spark, parquet)
    trivial_s, _ = best_of(trivial_sum, spark, parquet)
    polars_s, polars_total = best_of(polars_sum, parquet)
    assert spark_total == polars_total
    print(f"\n{N:,} rows: Spark UDF {N / spark_s:,.0f} rows/s ({spark_s:.2f} s); Spark with a "
          f"trivial pandas UDF {N / trivial_s:,.0f} rows/s ({trivial_s:.2f} s); Polars "
          f"expression {N / polars_s:,.0f} rows/s ({polars_s:.3f} s). Spark UDF: "
          f"{spark_s / polars_s:.1f}x Polars, {spark_s / trivial_s:.2f}x the trivial UDF")
    # Gated against Spark's own floor only: the ratio to Polars is Spark's (JVM, Arrow
    # round trips), reported, not ours to hold.
    assert spark_s <= SPARK_FACTOR * trivial_s
