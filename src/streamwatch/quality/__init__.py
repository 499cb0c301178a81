"""Fraud detection quality against the simulator's ground truth."""
