#!/usr/bin/env bash
# Graceful decommission of a Spark executor: with spark.decommission.enabled, Spark on
# Kubernetes gives executor pods a preStop hook running /opt/decom.sh. SIGPWR asks the
# executor to migrate its shuffle and cached blocks and exit; this hook waits for that so
# the kubelet's SIGTERM comes after the migration, not in its place (the pod's
# terminationGracePeriodSeconds still bounds the wait).
# Spark's own script finds the JVM with `ps`, which the slim base does not carry: /proc
# answers the same question.
set -euo pipefail

pid=""
for cmdline in /proc/[0-9]*/cmdline; do
  dir=${cmdline%/cmdline}
  if tr '\0' ' ' < "$cmdline" 2>/dev/null | grep -qE 'Executor(Backend)?( |$)'; then
    pid=${dir#/proc/}
  fi
done
if [[ -z $pid ]]; then
  echo "decom: no executor JVM running; nothing to decommission"
  exit 0
fi
echo "decom: SIGPWR to executor pid $pid"
kill -s PWR "$pid"
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
done
echo "decom: executor pid $pid exited"
