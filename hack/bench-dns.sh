#!/usr/bin/env bash
# Cluster DNS throughput and latency: queries/s and p50/p99 through dnsmasq (port 53 of a DNS host's control-plane
# address, what pods and hosts query) against the backend directly (CoreDNS on the same host's loopback, port
# 10053), and through the node-local DNS cache on the kube-dns Service's address (what pods ask). The load generator
# is berth's own (installer/testdata/dnsload, Go, UDP, closed loop) and runs on the DNS host itself, so every path is
# local and only the server differs. Two kinds of query:
#   cached name    kubernetes.default.svc.<domain>, the same name every time (dnsmasq answers from its cache)
#   unique names   a new name under default.svc.<domain> every time (NXDOMAIN; dnsmasq must ask the backend)
#
#   hack/bench-dns.sh                    # lab bench-dns (1 control plane, 1 worker), install, bench, lab down
#   BERTH_LAB_KEEP=1 hack/bench-dns.sh   # keep the lab (a second run reuses it and its install)
#   DURATION=20s CONCURRENCY=32 hack/bench-dns.sh
# Needs Docker (hack/deps.sh) and the lab bundle (hack/build-lab-bundle.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/berth"
bundle="${BERTH_BUNDLE:-$cache/bundles/lab-v1.31.tar}"
key="${BERTH_BUNDLE_KEY:-$cache/keys/bundle.pub}"
name="${BERTH_BENCH_LAB:-bench-dns}"
duration="${DURATION:-10s}"
concurrency="${CONCURRENCY:-16}"
[ -f "$bundle" ] || { echo "no lab bundle at $bundle: run hack/build-lab-bundle.sh" >&2; exit 2; }

tmp="$(mktemp -d)"
berth="$tmp/berth"
cleanup() {
	if [ "${BERTH_LAB_KEEP:-}" != 1 ] && [ -x "$berth" ]; then "$berth" lab down --name "$name" >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$root"
go build -o "$berth" ./cmd/berth
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o "$tmp/dnsload" ./installer/testdata/dnsload

echo "== lab $name (1 control plane, 1 worker)" >&2
"$berth" lab up --name "$name" --control-planes 1 --workers 1 >/dev/null
inv="$("$berth" lab status --name "$name" -o json | sed -n 's/^ *"inventory": *"\([^"]*\)".*/\1/p' | head -1)"
labdir="$(dirname "$inv")"
echo "== berth install (log: $labdir/bench-install.log)" >&2
"$berth" install -i "$labdir/inventory.yaml" -b "$bundle" --key "$key" --state-dir "$labdir/berth-state" --yes \
	>"$labdir/bench-install.log" 2>&1 || { tail -30 "$labdir/bench-install.log" >&2; exit 1; }

host="berth-$name-cp1"
docker cp "$tmp/dnsload" "$host:/usr/local/bin/berth-dnsload"
# dnsmasq listens on the host's control-plane address only: read it from the socket. The node-local DNS cache
# listens on the kube-dns Service's address, which lives on the loopback.
cache="$(docker exec "$host" sh -c "ip -4 -o addr show dev lo label lo:berth-dns | awk '{print \$4}' | cut -d/ -f1")"
addr="$(docker exec "$host" ss -Hlun 'sport = :53' | awk '{print $4}' | grep -v "^$cache:" | head -1)"
[ -n "$addr" ] || { echo "nothing listens on port 53 of $host" >&2; exit 1; }
domain="$(sed -n 's/^ *clusterDomain: *//p' "$labdir/inventory.yaml" | head -1)"
domain="${domain:-cluster.local}"
cached="kubernetes.default.svc.$domain"

echo >&2
printf '%-44s %10s %9s %9s %7s\n' "PATH ($concurrency in flight, $duration each)" "QUERIES/S" "P50 MS" "P99 MS" "ERRORS"
run() { docker exec "$host" berth-dnsload bench "$1" "$cached" -duration "$duration" -concurrency "$concurrency" -label "$2" $3; }
run "$addr" "dnsmasq :53, cached name" ""
run "127.0.0.1:10053" "backend :10053 directly, same name" ""
run "$addr" "dnsmasq :53, unique names (forwarded)" "-unique"
run "127.0.0.1:10053" "backend :10053 directly, unique names" "-unique"
if [ -n "$cache" ]; then
	run "$cache" "node-local cache (Service address), cached name" ""
	run "$cache" "node-local cache, unique names (every DNS host)" "-unique"
fi
