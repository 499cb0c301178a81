"""Benchmarks: each ``bench/bench_<what>.py`` prints its figures and writes JSON
under ``bench/results/``. ``python -m bench`` runs them all; ``--quick`` runs
the short variant of each (what ``make test-bench`` uses to prove the code runs)."""
