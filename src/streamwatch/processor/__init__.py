"""Streamwatch processor: Spark Structured Streaming jobs, the feed data source,
sinks and the progress listener."""
