"""Feeds: the durable log, its HTTP/socket server and the producer runtime around them."""
