#!/bin/sh
# Install benchmark (make bench-install): berth's install on a fresh 3+2 lab, total and per phase, against the same
# kubeadm-level steps scripted with bash and OpenSSH on another fresh lab, as a ratio (goal <= 1.0).
# ROUNDS=N repeats both installs N times and gives the ratio of the totals.
#   [ROUNDS=N] hack/bench-install.sh [BERTH_BINARY] [BUNDLE] [BUNDLE_KEY]
set -eu
cd "$(dirname "$0")/.."
berth=$(realpath "${1:-bin/berth}")
[ -x "$berth" ] || { echo "no berth binary at $berth (make build)" >&2; exit 1; }
BERTH_BENCH_ROUNDS="${ROUNDS:-1}" BERTH_BINARY="$berth" BERTH_BUNDLE="${2:-}" BERTH_BUNDLE_KEY="${3:-}" \
	go test -run '^$' -bench '^BenchmarkInstallVsScript$' -benchtime 1x -timeout 90m ./installer
