"""The embedded default: every Streamwatch service as a local process plus a live view."""
