#!/bin/sh
# Upgrade benchmark (make bench-upgrade): berth upgrade apply 1.31 -> 1.32 on a fresh 3+2 lab, total and per phase,
# against the same kubeadm upgrade steps scripted with bash and OpenSSH on another fresh lab, with a probe counting
# failed requests to the API and to a workload during each (goal: ratio <= 1.1 and 0 failed requests for berth).
#   hack/bench-upgrade.sh [BERTH_BUNDLE] [BERTH_UPGRADE_BUNDLE] [BUNDLE_KEY]
set -eu
cd "$(dirname "$0")/.."
BERTH_BUNDLE="${1:-}" BERTH_UPGRADE_BUNDLE="${2:-}" BERTH_BUNDLE_KEY="${3:-}" \
	go test -run '^$' -bench '^BenchmarkUpgradeVsScript$' -benchtime 1x -timeout 120m ./installer
