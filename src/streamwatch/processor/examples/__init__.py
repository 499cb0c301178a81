"""Runnable examples, named ``structured_<source>_<what>.py`` like Spark's own."""
