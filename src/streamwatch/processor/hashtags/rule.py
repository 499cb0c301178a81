"""The hashtag rule of ARCHITECTURE.md, in Python and as a JVM column expression.

Key concepts:
- A hashtag is ``#`` at the start of the text or after a non-word character,
  followed by Unicode word characters (``\\w+``) that are not all digits. It
  is normalised with NFKC and then casefolded, so ``#Spark`` and ``#spark``
  are one tag. A tag repeated in one text counts once.
- ``extract_hashtags`` is the reference implementation (Python ``re``).
- ``ascii_hashtags_column`` computes the same result in the JVM for texts
  that are pure ASCII, where Python's ``\\w`` is ``[A-Za-z0-9_]``, NFKC is the
  identity and casefold is ``lower``. Texts with any non-ASCII character take
  the Python path, so both paths agree by construction on every input.
- ``is_ascii_column`` tells the two apart by comparing a text's UTF-8 byte
  length with its character count (equal only when every character is one
  byte, i.e. ASCII): two length reads instead of a regular-expression scan of
  every text.
- ``hashtags_udf`` is an Arrow UDF: the JVM sends the texts of the Python path
  (null for the others) as one Arrow array and gets the tag lists back without
  a pandas conversion either way.

Usage::

    >>> extract_hashtags("Launch day! #Spark #streaming #spark #2026 x#no")
    ['spark', 'streaming']
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column

TAG = re.compile(r"(?<!\w)#(\w+)")
# Java regex for the ASCII path: Java's \w is ASCII-only without (?U), which is
# exactly Python's \w restricted to ASCII text.
JAVA_ASCII_TAG = r"(?<![A-Za-z0-9_])#([A-Za-z0-9_]+)"


def normalise(tag: str) -> str:
    return unicodedata.normalize("NFKC", tag).casefold()


def extract_hashtags(text: str | None) -> list[str]:
    """Distinct normalised hashtags of ``text`` in order of first appearance."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for raw in TAG.findall(text):
        if raw.isdigit():
            continue
        seen.setdefault(normalise(raw), None)
    return list(seen)


def is_ascii_column(text: Column) -> Column:
    """True where ``text`` is pure ASCII (null where it is null)."""
    from pyspark.sql import functions as F

    return F.octet_length(text) == F.length(text)


def ascii_hashtags_column(text: Column) -> Column:
    """JVM twin of ``extract_hashtags`` for pure-ASCII ``text`` (distinct, lower-cased)."""
    from pyspark.sql import functions as F

    tags = F.regexp_extract_all(text, F.lit(JAVA_ASCII_TAG), F.lit(1))
    tags = F.filter(tags, lambda t: ~t.rlike("^[0-9]+$"))
    return F.array_distinct(F.transform(tags, lambda t: F.lower(t)))


def hashtags_udf() -> Any:
    """An Arrow UDF ``text -> array<string>`` running ``extract_hashtags``; null stays null."""
    import pyarrow as pa
    from pyspark.sql.functions import arrow_udf

    tag_lists = pa.list_(pa.string())

    def hashtags(texts: pa.Array) -> pa.Array:
        return pa.array([None if t is None else extract_hashtags(t) for t in texts.to_pylist()],
                        type=tag_lists)

    # Real classes, not the postponed strings of `from __future__ import annotations`:
    # arrow_udf infers the UDF kind from them.
    hashtags.__annotations__ = {"texts": pa.Array, "return": pa.Array}
    return arrow_udf("array<string>")(hashtags)  # type: ignore[call-overload]
