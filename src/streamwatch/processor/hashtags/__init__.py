"""The hashtags job: trending hashtags per sliding window, with sentiment."""
