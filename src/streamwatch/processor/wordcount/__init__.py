"""The classic Structured Streaming word count over a producer's line socket."""
