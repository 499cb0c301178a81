"""The hashtag rule: Python reference on hand-written cases, JVM twin agrees on ASCII."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamwatch.processor.hashtags.rule import extract_hashtags


@pytest.mark.parametrize(("text", "tags"), [
    ("Launch day! #Spark #streaming", ["spark", "streaming"]),
    ("#spark #SPARK #Spark", ["spark"]),
    ("#2026 #100days #_", ["100days", "_"]),
    ("mail a#b c##d (#e) #f-g", ["d", "e", "f"]),
    ("#Straße #STRASSE", ["strasse"]),
    ("#ﬁre #Café", ["fire", "café"]),
    ("", []),
    (None, []),
    ("# nothing #", []),
])
def test_reference_rule(text: str | None, tags: list[str]) -> None:
    assert extract_hashtags(text) == tags


@pytest.mark.spark
@settings(max_examples=1, deadline=None)
@given(st.lists(st.text(alphabet="ab1_# -.\n#AZ9", max_size=30), min_size=200, max_size=200))
def test_jvm_ascii_path_matches_reference(spark, texts: list[str]) -> None:
    from pyspark.sql import functions as F

    from streamwatch.processor.hashtags.rule import ascii_hashtags_column

    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "i INT, text STRING")
    got = {r["i"]: r["tags"] for r in
           df.select("i", ascii_hashtags_column(F.col("text")).alias("tags")).collect()}
    assert [got[i] for i in range(len(texts))] == [extract_hashtags(t) for t in texts]
