#!/bin/sh
# Installs what berth's lab and tests need on a Debian 12 machine and makes sure the Docker engine runs.
# Idempotent: installs only missing packages, starts dockerd only when it does not answer. Works without systemd
# as PID 1 (dockerd is started in the background, its log in /var/log/dockerd.log). Run as root.
#
#   hack/deps.sh            # install + start dockerd
#   DOCKERD_WAIT=120 hack/deps.sh
set -eu

# docker.io: the engine (20.10, API 1.41) that runs lab hosts (it brings containerd and runc, which the bundle
# tests run privately); debootstrap: builds the lab host image offline from this machine's Debian mirror;
# iptables: egress blocking of lab hosts; iproute2: NIC faults; openssh-client: `berth lab ssh` and the upload
# benchmark's scp; tar: packs the image root file system; tmux: the real terminal the wizard's end-to-end test
# drives; gcc, libc6-dev: cgo sources of the lab bundle (flanneld); haproxy, keepalived: the manifests tests check
# berth's rendered configurations with the real programs (installed here with their services held back);
# dnsmasq-base: the cluster DNS tests check berth's dnsmasq configuration and query a real dnsmasq on loopback;
# time: make bench-plan reports the peak memory of a plan over 1,000 hosts.
PACKAGES="docker.io debootstrap iptables iproute2 openssh-client tar ca-certificates tmux gcc libc6-dev haproxy keepalived dnsmasq-base time nftables"

say() { echo "deps: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
	say "run as root (the lab needs Docker, debootstrap and iptables)"
	exit 1
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# Hold back services the packages would start (haproxy, keepalived): this machine only uses the binaries.
	held=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && held=1
	fi
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing || { [ -n "$held" ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
	[ -n "$held" ] && rm -f /usr/sbin/policy-rc.d
else
	say "packages present: $PACKAGES"
fi

docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if docker_up; then
	say "dockerd answers (server $(docker version --format '{{.Server.Version}}'))"
	exit 0
fi

# A pid file left by a dockerd that is gone stops a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
	rm -f /var/run/docker.pid
fi
if ! pidof dockerd >/dev/null 2>&1; then
	say "starting dockerd (log: /var/log/dockerd.log)"
	# setsid + nohup: dockerd outlives this script and the shell that ran it.
	setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
fi

wait=${DOCKERD_WAIT:-60}
i=0
while ! docker_up; do
	i=$((i + 1))
	if [ "$i" -gt "$((wait * 2))" ]; then
		say "dockerd did not answer within ${wait}s; last lines of /var/log/dockerd.log:"
		tail -n 20 /var/log/dockerd.log >&2 || true
		exit 1
	fi
	sleep 0.5
done
say "dockerd answers on $(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || echo /var/run/docker.sock)"
