#!/usr/bin/env bash
# Fetch the Kafka broker (KRaft) and Spark's Kafka connector from Maven Central into $1
# (default .tools/kafka): broker/ is the broker's classpath, connector/ the jars to add to
# spark.jars. Maven's local repository caches the downloads, so a second run is offline.
# Prints the directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-.tools/kafka}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
command -v mvn >/dev/null || {
  echo "fetch-kafka: mvn not found; install Maven (apt-get install maven) to fetch the broker and Spark's connector" >&2
  exit 1
}
fetch() { # fetch POM DIR [MAVEN-ARGS...]
  local pom=$1 out=$2
  shift 2
  [[ -f "$out/.complete" && "$out/.complete" -nt "$pom" ]] && return 0
  rm -rf "$out"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$out" "$@" >&2
  touch "$out/.complete"
}
fetch "$here/maven/kafka-broker.pom.xml" "$dest/broker"
# PySpark ships Scala, Hadoop's client, lz4, snappy and slf4j; a second copy of any of them
# on spark.jars would shadow or clash with its own.
fetch "$here/maven/spark-kafka.pom.xml" "$dest/connector" \
  -DincludeArtifactIds=spark-sql-kafka-0-10_2.13,spark-token-provider-kafka-0-10_2.13,kafka-clients,commons-pool2
echo "$dest"
