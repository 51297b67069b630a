"""visiontokens.spark against a real local Spark session (a JVM on 127.0.0.1, one core),
compared with the single-process batch on the same rows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from extras import integration_module

integration = integration_module("pyspark", "pandas")


def _java() -> str | None:
    java = shutil.which("java") or (os.path.join(os.environ["JAVA_HOME"], "bin", "java")
                                    if os.environ.get("JAVA_HOME") else None)
    if not java:
        return None
    try:
        run = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return run.stderr.splitlines()[0] if run.returncode == 0 and run.stderr else None


JAVA = _java()
pytestmark = [
    integration,
    pytest.mark.skipif(JAVA is None, reason="no Java runtime (apt-get install -y "
                                            "openjdk-17-jre-headless)"),
    # pyspark warns on every pandas 3 call that it "does not yet fully support" it; the
    # results are compared with the batch core below, which is what matters here.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

import visiontokens as vt  # noqa: E402

MODELS = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "o3", "gpt-6-astra", "gpt-4o-mini"]
DETAILS = ["low", "high", "auto"]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # The workers are this interpreter, with this tree on their path.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    src = os.path.dirname(os.path.dirname(vt.__file__))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    session = (SparkSession.builder.master("local[1]").appName("visiontokens-test")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.driver.memory", "512m")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
               .config("spark.python.worker.reuse", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def rows(n: int, seed: int = 7) -> list[tuple]:
    """Log rows as they come: a few null sizes, models and details."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = int(rng.integers(1, 5000)), int(rng.integers(1, 5000))
        model = str(rng.choice(MODELS))
        detail = str(rng.choice(DETAILS))
        if i % 97 == 5:
            w = None
        if i % 89 == 3:
            detail = None
        if i % 101 == 7:
            model = None
        out.append((w, h, model, detail))
    return out


SCHEMA = "width long, height long, model string, detail string"


def expected(data: list[tuple], model=None, detail=None) -> list[int | None]:
    """The single-process batch on the same rows (nulls as missing values)."""
    import pandas as pd

    frame = pd.DataFrame(data, columns=["width", "height", "model", "detail"])
    out = vt.count_image_tokens_batch(
        frame["width"].astype("Int64"), frame["height"].astype("Int64"),
        frame["model"] if model is None else model, frame["detail"] if detail is None else detail)
    return [None if pd.isna(v) else int(v) for v in out]


def test_per_row_model_and_detail(spark):
    from pyspark.sql import functions as F

    from visiontokens.spark import image_tokens

    data = rows(3000)
    df = spark.createDataFrame(data, SCHEMA).repartition(3)
    out = df.select("*", image_tokens("width", "height", F.col("model"), F.col("detail")))
    assert out.schema["image_tokens"].dataType.simpleString() == "bigint"
    got = [(r.width, r.height, r.model, r.detail, r.image_tokens) for r in out.collect()]
    want = expected([g[:4] for g in got])
    assert [g[4] for g in got] == want
    assert sum(v is None for v in want) > 50  # the nulls are there and stayed nulls


def test_literal_model_and_detail_and_columns(spark):
    from pyspark.sql import functions as F

    from visiontokens.spark import image_tokens

    data = [r for r in rows(500, seed=3)]
    df = spark.createDataFrame(data, SCHEMA)
    out = df.select("width", "height",
                    image_tokens(F.col("width"), F.col("height"), "gpt-5.4", "high").alias("a"),
                    image_tokens("width", "height", "gpt-4o", F.col("detail")).alias("b"),
                    image_tokens("width", "height", F.col("model"), "low").alias("c")).collect()
    sizes = [(r.width, r.height, None, None) for r in out]
    assert [r.a for r in out] == expected(sizes, "gpt-5.4", "high")
    assert [r.b for r in out] == expected([(d[0], d[1], None, d[3]) for d in data], "gpt-4o")
    assert [r.c for r in out] == expected([(d[0], d[1], d[2], None) for d in data], detail="low")


def test_bad_row_raises_or_gives_null(spark):
    from pyspark.errors import PythonException
    from pyspark.sql import functions as F

    from visiontokens.spark import image_tokens

    data = [(1024, 1024, "gpt-4o", "high"), (1024, 1024, "no-such-model", "high"),
            (0, 10, "gpt-4o", "high"), (None, 5, "gpt-4o", "high"),
            (40000, 40000, "gpt-6-astra", "original")]  # 30,000-patch rejection
    df = spark.createDataFrame(data, SCHEMA).coalesce(1)
    nulls = df.select(image_tokens("width", "height", F.col("model"), F.col("detail"),
                                   on_error="null")).collect()
    assert [r.image_tokens for r in nulls] == [765, None, None, None, None]
    with pytest.raises(PythonException, match="UnknownModelError.*no-such-model"):
        df.select(image_tokens("width", "height", F.col("model"), F.col("detail"))).collect()
    bad_size = spark.createDataFrame(data[2:3], SCHEMA)
    with pytest.raises(PythonException, match="InvalidDimensionsError"):
        bad_size.select(image_tokens("width", "height", "gpt-4o", "high")).collect()


def test_group_by_sum(spark):
    """What the README recipe did by hand: cost per model, in SQL terms."""
    from pyspark.sql import functions as F

    from visiontokens.spark import image_tokens

    data = rows(1000, seed=11)
    df = spark.createDataFrame(data, SCHEMA)
    sums = {r.model: r.total for r in df.groupBy("model").agg(
        F.sum(image_tokens("width", "height", F.col("model"), F.col("detail"))).alias("total"))
        .collect()}
    want: dict = {}
    for d, v in zip(data, expected(data)):
        if v is not None:
            want[d[2]] = want.get(d[2], 0) + v
    assert {k: v for k, v in sums.items() if k is not None} == want


def test_arguments_checked_in_the_driver():
    from visiontokens.spark import image_tokens

    with pytest.raises(vt.InvalidArgumentError, match="on_error"):
        image_tokens("w", "h", "gpt-4o", on_error="skip")
    with pytest.raises(vt.ArgumentTypeError, match="model must be"):
        image_tokens("w", "h", 42)
    with pytest.raises(vt.UnknownRulesetError):
        image_tokens("w", "h", "gpt-4o", ruleset="1999-01")
