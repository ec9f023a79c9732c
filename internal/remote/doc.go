// Package remote runs commands on and copies files to the hosts of an inventory over SSH.
//
// An Executor holds one SSH connection per host, reused for every command and for SFTP, and reconnects when the
// connection dies. Host keys are always verified, against known_hosts or fingerprints pinned in the inventory; there
// is no way to turn that off. Users other than root run commands through non-interactive sudo, which fails with a
// clear error instead of waiting for a password. Every remote command runs in its own process group, so cancelling
// its context ends the command and everything it started on the host.
//
// Uploads are content-addressed: a file whose destination already has the same sha256 is not sent again, and a
// file that is sent lands under a temporary name, is verified on the host and only then renamed into place.
package remote
