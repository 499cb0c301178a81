"""The producers: each one a source behind the shared feed runtime (streamwatch.feed)."""
