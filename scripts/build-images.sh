#!/usr/bin/env bash
# Build every Streamwatch image from the one Dockerfile.
#   scripts/build-images.sh            docker (or podman) with the public base images
#   scripts/build-images.sh --offline  podman, base images made from Debian packages and this
#                                      machine's JDK by scripts/containers-setup.sh (no registry);
#                                      also a Prometheus image from Debian's package, which the
#                                      compose stack uses through PROMETHEUS_IMAGE.
# Layers are cached by the engine, so a second run only rebuilds what changed.
# Env: STREAMWATCH_VERSION (tag, default from pyproject.toml), TARGETS (default: all seven).
set -euo pipefail
cd "$(dirname "$0")/.."

offline=0
[[ ${1:-} == --offline ]] && offline=1
version=${STREAMWATCH_VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)}
targets=(${TARGETS:-tweet-ingester txn-simulator order-simulator alerting exporter spark kafka})
log() { echo "build-images: $*" >&2; }

# the spark image carries Spark's Kafka connector, the kafka image the broker (Maven Central)
bash scripts/fetch-kafka.sh .tools/kafka >/dev/null

args=()
if ((offline)); then
  eval "$(bash scripts/containers-setup.sh)"
  engine=podman
  # --format docker keeps HEALTHCHECK (OCI images drop it); --pull=never: nothing may be fetched.
  args+=(--format docker --pull=never
         --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE_OFFLINE" --build-arg "JRE_IMAGE=$JRE_IMAGE_OFFLINE")
else
  engine=$(command -v docker || command -v podman || true)
  [[ -n $engine ]] || { log "neither docker nor podman found; or use OFFLINE=1"; exit 1; }
fi

for target in "${targets[@]}"; do
  log "$target"
  "$engine" build "${args[@]}" --target "$target" -t "streamwatch/$target:$version" . >&2
done

if ((offline)); then
  log "prometheus (Debian's package)"
  # wget: the compose health check is the same command as for the public prom/prometheus image.
  "$engine" build "${args[@]}" -t "streamwatch/prometheus-debian:$version" -f - . >&2 <<CONTAINERFILE
FROM $PYTHON_IMAGE_OFFLINE
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends prometheus wget \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o nobody -g nogroup /prometheus
USER nobody
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CONTAINERFILE
fi

for target in "${targets[@]}"; do
  size=$("$engine" image inspect --format '{{.Size}}' "streamwatch/$target:$version")
  printf 'build-images: streamwatch/%s:%s %d MB\n' "$target" "$version" $((size / 1000000)) >&2
done
