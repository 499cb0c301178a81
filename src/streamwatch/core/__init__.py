"""Plumbing every service shares: flags with env twins, logging, HTTP, the JDK lookup."""
