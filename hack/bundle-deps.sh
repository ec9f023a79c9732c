#!/usr/bin/env bash
# Installs what building and testing bundles needs on a Debian 12 build machine (run as root):
#   apt-get, apt-cache, dpkg-deb  - resolve, download and unpack Debian packages (part of every Debian system)
#   debootstrap                   - the baseline host the package-closure test installs into
#   containerd, runc, ctr         - the image import tests run a private containerd
#   gcc, libc6-dev                - cgo sources (flanneld is linked statically against glibc)
# The Go toolchain and the module proxy are assumed (the project's own requirement).
set -euo pipefail
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ "${#need[@]}" -gt 0 ]; then
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
elif [ -z "$(ls -A /var/lib/apt/lists/ 2>/dev/null | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$')" ]; then
	apt-get update -q   # bundle builds resolve packages from apt's lists
fi
echo "bundle build and test dependencies present"
