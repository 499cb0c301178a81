#!/usr/bin/env bash
# Entry point of the Streamwatch Kafka image: one Apache Kafka broker in KRaft mode
# (broker and controller in one process), for the compose stack's Kafka transport.
#   (no argument)   format the log directory on first start, then run the broker
#   healthcheck     the broker accepts connections on its client port
# Env: KAFKA_NODE_ID (1), KAFKA_ADVERTISED_HOST (kafka), KAFKA_ADVERTISED_PORT (9092: the
#      port clients reach, when it is published under another), KAFKA_PARTITIONS (2),
#      KAFKA_HEAP (512m), KAFKA_CLUSTER_ID (fixed default, so a re-created container
#      keeps the volume's cluster).
set -euo pipefail

data=/var/lib/kafka/data
config=/tmp/server.properties
cp=/opt/kafka/libs/*

if [[ ${1:-} == healthcheck ]]; then
  exec 3<>/dev/tcp/127.0.0.1/9092
  exit 0
fi

# The broker talks to itself (transaction verification, KIP-890) on its own INTERNAL
# listener: the address it advertises to clients may not be reachable from inside the
# container (a port published under another number), and a transactional produce would
# then wait until it times out.
cat > "$config" <<PROPS
process.roles=broker,controller
node.id=${KAFKA_NODE_ID:-1}
controller.quorum.voters=${KAFKA_NODE_ID:-1}@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST:-kafka}:${KAFKA_ADVERTISED_PORT:-9092},INTERNAL://127.0.0.1:9094
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=${KAFKA_PARTITIONS:-2}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS

java=(java "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseSerialGC -cp "$cp")
if [[ ! -f $data/meta.properties ]]; then
  "${java[@]}" kafka.tools.StorageTool format -t "${KAFKA_CLUSTER_ID:-c3RyZWFtd2F0Y2gta2Fma2E}" -c "$config"
fi
exec "${java[@]}" kafka.Kafka "$config"
