#!/usr/bin/env bash
# Entry point of the Streamwatch Spark image. One image, four roles:
#   master                 Spark standalone master   (docker compose)
#   worker MASTER_URL      Spark standalone worker   (docker compose)
#   driver ARGS            Spark-on-Kubernetes driver in cluster mode (spark-operator):
#                          spark-submit creates the driver pod with args ["driver", ...]
#   executor               Spark-on-Kubernetes executor: the driver creates executor pods
#                          with args ["executor"] and its settings in SPARK_* env vars
#   healthcheck            probe $SPARK_HEALTH_URL (the image's HEALTHCHECK)
#   anything else          exec'd as given, e.g. `streamwatch process hashtags ...`
set -euo pipefail

role=${1:-}
case "$role" in
  master)
    shift
    exec spark-class org.apache.spark.deploy.master.Master \
      --host "${SPARK_MASTER_HOST:-0.0.0.0}" --port 7077 --webui-port 8080 "$@"
    ;;
  worker)
    shift
    mkdir -p "$SPARK_WORKER_DIR"
    exec spark-class org.apache.spark.deploy.worker.Worker \
      --webui-port 8081 --work-dir "$SPARK_WORKER_DIR" "$@"
    ;;
  driver)
    shift
    # Inside the driver pod the application runs in client mode against the same master.
    exec spark-submit \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    # Same contract as Spark's own kubernetes/dockerfiles entrypoint: the driver passes
    # JVM options as SPARK_JAVA_OPT_<n>; they must be applied in order.
    java_opts=()
    while IFS='=' read -r name _; do
      java_opts+=("${!name}")
    done < <(env | grep -E '^SPARK_JAVA_OPT_[0-9]+=' | sort -t_ -k4 -n)
    classpath="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*"
    exec "$JAVA_HOME/bin/java" "${java_opts[@]}" \
      -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
      -cp "$classpath" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" \
      --executor-id "$SPARK_EXECUTOR_ID" \
      --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" \
      --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "$SPARK_EXECUTOR_POD_NAME" \
      "$@"
    ;;
  healthcheck)
    exec python -c 'import os, urllib.request as u; u.urlopen(os.environ["SPARK_HEALTH_URL"], timeout=4)'
    ;;
  "")
    echo "usage: entrypoint.sh master|worker MASTER_URL|driver|executor|healthcheck|COMMAND..." >&2
    exit 64
    ;;
  *)
    exec "$@"
    ;;
esac
