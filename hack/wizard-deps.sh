#!/bin/sh
# Installs tmux, the real terminal the wizard's end-to-end test (cmd/berth TestWizardInATerminalOnLabHosts) drives
# with send-keys and capture-pane. Idempotent; run as root on Debian. `make deps` should call it after hack/deps.sh.
set -eu

if command -v tmux >/dev/null 2>&1; then
	echo "wizard-deps: tmux present ($(tmux -V))" >&2
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "wizard-deps: run as root to install tmux" >&2
	exit 1
fi
echo "wizard-deps: installing tmux" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends tmux
