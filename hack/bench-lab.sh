#!/bin/sh
# Measures `berth lab up --control-planes 3 --workers 2`:
#   cold         no host image in Docker, no build cache (fresh cache dir): debootstrap downloads and builds
#   rootfs-cache no host image in Docker, the debootstrap root file system cached (a wiped Docker)
#   warm         host image present, lab absent (the everyday case; target < 60 s)
#   again        `up` on the running lab (idempotent: nothing to do)
# Usage: hack/bench-lab.sh [BERTH_BINARY]   (default bin/berth, built if missing). Needs root and Docker.
# BENCH_SKIP_COLD=1 skips the two cold runs (they remove the lab images from Docker).
set -eu

BERTH=${1:-bin/berth}
NAME=bench
if [ ! -x "$BERTH" ]; then
	mkdir -p "$(dirname "$BERTH")"
	CGO_ENABLED=0 go build -o "$BERTH" ./cmd/berth
fi

now() { date +%s.%N; }
elapsed() { echo "$1 $2" | awk '{printf "%.1f", $2 - $1}'; }

up() {
	t0=$(now)
	"$BERTH" -v 0 lab up --name "$NAME" --control-planes 3 --workers 2 >/dev/null
	elapsed "$t0" "$(now)"
}

untag_images() {
	# Untag only: containers of other labs keep running on the image layers they use.
	for img in $(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^berth-lab-(base|rootfs):' || true); do
		docker rmi -f "$img" >/dev/null
	done
}

"$BERTH" -v 0 lab down --name "$NAME" >/dev/null
results=""
if [ "${BENCH_SKIP_COLD:-}" != 1 ]; then
	cold_cache=$(mktemp -d)
	trap 'rm -rf "$cold_cache"' EXIT
	untag_images
	cold=$(XDG_CACHE_HOME=$cold_cache up)
	"$BERTH" -v 0 lab down --name "$NAME" >/dev/null
	untag_images
	cached=$(XDG_CACHE_HOME=$cold_cache up)
	"$BERTH" -v 0 lab down --name "$NAME" >/dev/null
	results="cold ${cold}s | rootfs-cache ${cached}s | "
fi
warm=$(up)
again=$(up)
"$BERTH" -v 0 lab down --name "$NAME" >/dev/null
echo "berth lab up --control-planes 3 --workers 2: ${results}warm ${warm}s | again ${again}s (target: warm < 60s)"
