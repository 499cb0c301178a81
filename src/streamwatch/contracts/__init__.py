"""The event types the services exchange, defined once."""
