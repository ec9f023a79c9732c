// Package lab runs sandbox hosts on one machine for rehearsals and tests: Docker containers that boot systemd and
// OpenSSH from a Debian base image built offline with debootstrap, each with one NIC per network plane
// (management, control, storage, business) on its own Docker network and a deterministic address.
//
// Up writes everything a rehearsal needs into the lab directory: an ed25519 key pair, a known_hosts file with the
// host keys collected from every host, and inventory.yaml, ready for `berth install`. The hosts behave like freshly
// installed servers: a non-root user with passwordless sudo, no containerd and no Kubernetes (those come from the
// bundle). Fault helpers stop and start hosts, disconnect a plane's NIC and block a host's egress, for tests that
// prove high availability and the air gap.
package lab
