#!/usr/bin/env bash
# Prepare this machine to build and run Streamwatch's images without any image registry:
#   - podman (Docker-compatible API for docker-compose and the docker SDK), runc, debootstrap,
#     docker-compose, the CNI dnsname plugin (compose service names must resolve);
#   - a runc wrapper that drops rlimits: sandboxes without CAP_SYS_RESOURCE refuse them;
#   - two base images the Dockerfile takes as build args (OFFLINE=1 in the Makefile):
#       $PYTHON_IMAGE  Debian bookworm (python3 3.11) from debootstrap, a venv first on PATH
#                      (Debian's own python is "externally managed"; the Dockerfile's pip
#                      commands need one that is not), with the host's CA bundle;
#       $JRE_IMAGE     /opt/java/openjdk: a jlink'ed runtime of the JDK >= 23 on this machine
#                      (Spark's executor command line needs 23+; Debian bookworm ships 17).
# Idempotent: what exists is reused. Prints the environment to use, as `export` lines.
#
#   eval "$(bash scripts/containers-setup.sh)"
set -euo pipefail

state=${STREAMWATCH_CONTAINERS_DIR:-/var/tmp/streamwatch-containers}
python_image=${PYTHON_IMAGE_OFFLINE:-localhost/streamwatch-offline/python:3.11-bookworm}
jre_image=${JRE_IMAGE_OFFLINE:-localhost/streamwatch-offline/jre:25}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { echo "containers-setup: $*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "needs root (rootful podman, debootstrap); run with sudo"; exit 1; }
mkdir -p "$state/runtime"

# catatonit: podman builds the pause image of a pod's infra container from it (kube play)
packages=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs docker-compose
          golang-github-containernetworking-plugin-dnsname catatonit)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# runc reads rlimits from the bundle's config.json (run) and the --process file (exec).
cat > "$state/runtime/runc" <<'WRAPPER'
#!/bin/bash
args=("$@"); bundle=""; process=""
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[$i]} in
    --bundle|-b) bundle=${args[$((i + 1))]} ;;
    --bundle=*) bundle=${args[$i]#--bundle=} ;;
    --process|-p) process=${args[$((i + 1))]} ;;
    --process=*) process=${args[$i]#--process=} ;;
  esac
done
strip() {
  python3 -c 'import json, sys
p = sys.argv[1]
c = json.load(open(p))
(c.get("process") or c).pop("rlimits", None)
json.dump(c, open(p, "w"))' "$1"
}
[[ -n $bundle && -f $bundle/config.json ]] && strip "$bundle/config.json"
[[ -n $process && -f $process ]] && strip "$process"
exec /usr/sbin/runc "$@"
WRAPPER
chmod 0755 "$state/runtime/runc"
# crun refuses hybrid cgroups on these machines; runc (through the wrapper) works.
cat > "$state/containers.conf" <<CONF
[engine]
runtime = "runc"
[engine.runtimes]
runc = ["$state/runtime/runc"]
CONF
export CONTAINERS_CONF=$state/containers.conf

if ! podman image exists "$python_image"; then
  log "building $python_image with debootstrap (about 2 minutes)"
  root=$(mktemp -d "$state/root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$mirror" >&2
  # TLS to package indexes may be re-signed by this network's proxy: trust what the host trusts.
  cat /etc/ssl/certs/ca-certificates.crt >> "$root/etc/ssl/certs/ca-certificates.crt"
  chroot "$root" /usr/bin/python3 -m venv /opt/python
  chroot "$root" /bin/sh -c 'apt-get clean && rm -rf /var/lib/apt/lists/*'
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$python_image" >&2
  rm -rf "$root"
  trap - EXIT
fi

if ! podman image exists "$jre_image"; then
  jdk=${STREAMWATCH_JDK:-}
  if [[ -z $jdk ]]; then
    for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
      [[ -x $candidate/bin/jlink ]] || continue
      feature=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java.specification.version = //p')
      if [[ ${feature:-0} -ge 23 ]]; then jdk=$candidate; break; fi
    done
  fi
  [[ -n $jdk ]] || { log "no JDK >= 23 with jlink found; set STREAMWATCH_JDK=/path/to/jdk"; exit 1; }
  log "building $jre_image with jlink from $jdk"
  root=$(mktemp -d "$state/jre.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/opt/java"
  # java.se plus what Spark, Netty and Hadoop reach for at run time (Unsafe, JMX, DNS, zipfs).
  "$jdk/bin/jlink" --output "$root/opt/java/openjdk" --strip-debug --no-man-pages \
    --no-header-files --compress=zip-6 \
    --add-modules java.se,jdk.unsupported,jdk.management,jdk.management.agent,jdk.crypto.ec,jdk.crypto.cryptoki,jdk.naming.dns,jdk.zipfs,jdk.net,jdk.security.auth,jdk.security.jgss,jdk.charsets,jdk.localedata,jdk.jfr,jdk.httpserver,jdk.incubator.vector \
    >&2  # its "Using incubator modules" warning goes to stdout, which the caller evals
  tar -C "$root" -c . | podman import - "$jre_image" >&2
  rm -rf "$root"
  trap - EXIT
fi

echo "export CONTAINERS_CONF=$state/containers.conf"
echo "export PYTHON_IMAGE_OFFLINE=$python_image"
echo "export JRE_IMAGE_OFFLINE=$jre_image"
