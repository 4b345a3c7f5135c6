"""Deconfliction at statewide scale: the same model on Splink's Spark back end (local mode)."""

from __future__ import annotations

from typing import Any

import pytest

# ========================================================================================
# 5. Statewide scale: the same model on Splink's Spark back end (local mode)
# ========================================================================================


def test_the_same_matching_runs_on_spark_local_mode(tmp_path: Any) -> None:
    import shutil

    from tandem.recovery import linkage

    pytest.importorskip(
        "pyspark", reason="pyspark is not installed: the Spark back end is not tested here"
    )
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: Spark local mode needs it")
    import logging

    from pyspark.sql import SparkSession

    # py4j says goodbye at interpreter exit, after pytest closed the log streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.jars", linkage.spark_jar())
        .appName("tandem-linkage-test")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.adaptive.enabled", "false")
        # Five records: compiling Java code for each query would cost more than running it.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .getOrCreate()
    )
    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    records = [
        linkage.record_of(
            uid=1,
            first_name="Jamie",
            last_name="Rivera",
            date_of_birth="1990-04-05",
            phone="5405550199",
        ),
        linkage.record_of(
            uid=2,
            first_name="Jaime",
            last_name="Rivera",
            date_of_birth="1990-05-04",
            phone="5405550199",
        ),
        linkage.record_of(
            uid=3,
            first_name="Dana",
            last_name="Whitfield",
            aliases="Dee",
            date_of_birth="1985-11-02",
        ),
        linkage.record_of(
            uid=4, first_name="Dee", last_name="Whitfeld", date_of_birth="1985-11-02"
        ),
        linkage.record_of(
            uid=5,
            first_name="Peter",
            last_name="Nguyen",
            date_of_birth="1975-02-17",
            address="60 Ash Road",
        ),
    ]
    model = linkage.prior_model()
    on_duckdb = linkage.predict(records, model, threshold=0.5)
    try:
        on_spark = linkage.predict(
            records,
            model,
            threshold=0.5,
            # In memory and one partition: five records need no checkpoint files.
            db_api=linkage.database_api(
                "spark",
                spark=spark,
                break_lineage_method="persist",
                num_partitions_on_repartition=1,
            ),
        )
    finally:
        spark.stop()
    assert {(p.left, p.right) for p in on_duckdb} == {(1, 2), (3, 4)}
    assert [(p.left, p.right) for p in on_spark] == [(p.left, p.right) for p in on_duckdb]
    for a, b in zip(on_spark, on_duckdb, strict=True):
        assert a.probability == pytest.approx(b.probability, abs=1e-6)
        assert [f.level for f in a.fields] == [f.level for f in b.fields]
