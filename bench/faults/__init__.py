"""Fault runs: break the pipeline on purpose and count every alert exactly.

``python -m bench.faults [--quick] [--only NAME]`` runs, each on its own copy
of the real pipeline (``streamwatch txns`` -> ``streamwatch process fraud`` ->
``streamwatch alerting`` -> a verifying webhook receiver, all on 127.0.0.1):

- ``driver_kill``      -- ``kill -9`` of the Spark driver five times at random moments;
- ``executor_kill``    -- ``kill -9`` of an executor JVM five times in ``local-cluster[2,1,1024]``;
- ``alerting_kill``    -- ``kill -9`` of alerting right after a webhook went out;
- ``receiver_down``    -- the subscriber refuses connections for 10 minutes, time-compressed
  by dividing alerting's retry schedule and the outage by the same factor;
- ``producer_restart`` -- ``kill -9`` of the feed producer while the processor reads it.

The input is bounded and identical in every run (fixed seed, ``--max-events``,
fixed start time; verified by a SHA-256 of the feed), so the expected alerts
are the ids an uninterrupted run (``reference``) stores for the same records.
For each scenario: expected, stored, delivered, lost, duplicated, recovery
seconds -- written to ``bench/results/faults_<scenario>.json``.
"""
