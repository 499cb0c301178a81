"""txn-simulator: card transactions from a synthetic population, with labelled fraud.

``streamwatch txns`` serves two feeds: ``transactions`` (the events a fraud
detector sees) and ``labels`` (ground truth for evaluation). See
``docs/fraud-scenarios.md`` for the scenarios and their signatures.
"""
