"""order-simulator: an e-commerce order stream (purchased, shipped, delivered, ...).

``streamwatch orders`` serves one feed, ``orders``: every step of every
order's life as one event, with resends and disorder on demand. See
``docs/architecture.md`` ("Orders per minute") for the event and its timing.
"""
