"""Where the processor's events come from and where its results go."""
