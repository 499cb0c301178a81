"""Streamwatch shared package: events, settings, feed log and service plumbing.

Every service imports from here so that no service copies another's helpers.
"""

__version__ = "0.1.0"
