#!/usr/bin/env bash
# Builds the signed lab bundle outside the clone, where tests and later phases find it:
#
#   hack/build-lab-bundle.sh [1.31|1.32|1.33] -> ~/.cache/berth/bundles/lab-v1.31.tar (or v1.32, v1.33)
#
# The signing key is ~/.cache/berth/keys/bundle.key (0600; made on first use) with bundle.pub beside it. The build
# is skipped when the bundle exists and neither the spec nor berth's bundle code changed since it was built; when
# something changed, the build cache (~/.cache/berth/bundle) makes the rebuild take well under a minute unless a
# pinned version moved. A cold build (Kubernetes compiled from source) takes 10-20 minutes on 2 cores.
# Needs: go, gcc with static glibc (flanneld uses cgo), apt-get (with 'apt-get update' done), apt-cache, dpkg-deb
# (hack/bundle-deps.sh installs what is missing).
set -euo pipefail

minor="${1:-1.31}"
root="$(cd "$(dirname "$0")/.." && pwd)"
spec="$root/bundles/specs/lab-v${minor}.yaml"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/berth"
out="$cache/bundles/lab-v${minor}.tar"
key="$cache/keys/bundle"
berth="$cache/bin/berth"

[ -f "$spec" ] || { echo "no spec $spec" >&2; exit 2; }
mkdir -p "$cache/bundles" "$cache/bin"
mkdir -p -m 0700 "$cache/keys"

cd "$root"
go build -o "$berth" ./cmd/berth

if [ ! -f "$key.key" ]; then
	"$berth" keygen "$key"
fi

# The stamp covers what decides the bundle's content: the spec, the bundle code and the Go toolchain.
stamp="$( (cat "$spec"; find bundles -name '*.go' ! -name '*_test.go' -print0 | sort -z | xargs -0 cat; go env GOVERSION) | sha256sum | cut -d' ' -f1)"
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "lab bundle up to date: $out (key $key.pub)"
	exit 0
fi

start=$(date +%s)
"$berth" bundle build -f "$spec" --out "$out" --sign-key "$key.key"
echo "$stamp" > "$out.stamp"
echo "built in $(( $(date +%s) - start ))s: $out"
"$berth" bundle verify "$out" --key "$key.pub"
echo "BERTH_BUNDLE=$out BERTH_BUNDLE_KEY=$key.pub"
