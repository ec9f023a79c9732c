#!/usr/bin/env bash
# Bundle benchmark (make bench): cold and warm build time, bundle size against the sum of its parts, verify
# throughput, and patch bundles' sizes against the full bundle's.
#
#   hack/bench-bundle.sh              warm lab build measured now; cold lab build from the last BENCH_COLD run
#   BENCH_COLD=1 hack/bench-bundle.sh also measures a cold lab build now (empty bundle cache AND empty Go build
#                                     cache: Kubernetes compiled from scratch, 10-20 minutes on 2 cores)
#
# The small test spec (a module, a local command, .debs, a chart, two images) is always built cold and warm.
# Patch sizes are measured on the lab bundles when lab-v1.31.tar and lab-v1.32.tar are both in the bundle cache
# (hack/build-lab-bundle.sh 1.32 builds the second), else on bundletest's small bundles.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/berth"
berth="$cache/bin/berth"
mkdir -p "$cache/bin" "$cache/bundles"
go build -o "$berth" ./cmd/berth
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# secs CMD... runs CMD quietly and prints how long it took, in seconds.
secs() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
	e=$(date +%s%N)
	awk -v d="$((e - s))" 'BEGIN { printf "%.1f", d / 1e9 }'
}

echo "== small spec (bundles/build/testdata/small) =="
"$berth" keygen "$tmp/key" >/dev/null
cold=$(GOCACHE="$tmp/gocache" secs "$berth" bundle build -f bundles/build/testdata/small/spec.yaml --out "$tmp/small.tar" --cache-dir "$tmp/cache" --sign-key "$tmp/key.key")
warm=$(secs "$berth" bundle build -f bundles/build/testdata/small/spec.yaml --out "$tmp/small.tar" --cache-dir "$tmp/cache" --sign-key "$tmp/key.key")
printf "  cold build %6.1fs   warm build %5.1fs\n" "$cold" "$warm"
go run ./hack/bundlestats "$tmp/small.tar" "$tmp/key.pub"

echo "== lab spec (bundles/specs/lab-v1.31.yaml) =="
hack/build-lab-bundle.sh 1.31 >/dev/null   # make sure the bundle and the cache exist
key="$cache/keys/bundle"
coldfile="$cache/bundles/bench-cold-lab-v1.31.txt"
if [ "${BENCH_COLD:-}" = 1 ]; then
	c=$(GOCACHE="$tmp/gocache-lab" secs "$berth" bundle build -f bundles/specs/lab-v1.31.yaml --out "$tmp/lab-cold.tar" --cache-dir "$tmp/labcache" --sign-key "$key.key")
	printf "%.0f %s\n" "$c" "$(date -u +%Y-%m-%d)" > "$coldfile"
	rm -rf "$tmp/labcache" "$tmp/gocache-lab" "$tmp/lab-cold.tar"
fi
warm=$(secs "$berth" bundle build -f bundles/specs/lab-v1.31.yaml --out "$tmp/lab.tar" --sign-key "$key.key")
if [ -f "$coldfile" ]; then
	read -r c when < "$coldfile"
	printf "  cold build %6ss (measured %s; BENCH_COLD=1 to re-measure)   warm build %5.1fs\n" "$c" "$when" "$warm"
else
	printf "  cold build: not measured yet (run BENCH_COLD=1 hack/bench-bundle.sh)   warm build %5.1fs\n" "$warm"
fi
go run ./hack/bundlestats "$tmp/lab.tar" "$key.pub"

echo "== verify throughput, synthetic 256 MiB bundle =="
go test ./bundles/ -run '^$' -bench '^BenchmarkVerify$' -benchtime 3x | grep -E '^Benchmark'

echo "== patch bundles: size against the full bundle (hack/patchbench) =="
go run ./hack/patchbench -base "$cache/bundles/lab-v1.31.tar" -next "$cache/bundles/lab-v1.32.tar" \
	-key "$key.pub" -sign-key "$key.key"
