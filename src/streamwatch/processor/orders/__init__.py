"""The orders job: orders per event-time minute and status."""
