"""The fraud job's logic, independent of Spark where it can be.

- ``rules``: the YAML rule file (schema, loader, reload with last-good fallback);
- ``detector``: the vectorised per-bucket detection over pandas frames;
- ``state``: the per-bucket state (card profiles, recent transactions) and its
  Arrow serialisation;
- ``processor``: the ``transformWithStateInPandas`` processor gluing them;
- ``buckets``: the card bucket count of a checkpoint (default, record).
"""
