// Package remote runs commands on hosts over SSH, writes files to them and opens TCP connections from them.
//
// An Executor holds one SSH connection per host, reused for every command, file batch and tunnelled connection,
// and reconnects when the connection dies. Host keys are always verified, against known_hosts or pinned
// fingerprints; there is no way to turn that off. Users other than root run commands through non-interactive sudo,
// which fails with a clear error instead of waiting for a password. Every remote command runs in its own process
// group, so cancelling its context ends the command and everything it started on the host.
//
// There is one way files reach a host: PutFiles (and WriteFile, a batch of one). A batch is content-addressed (a
// destination that already has the sha256 is left alone), streamed as one tar into one command, and every file is
// checked by sha256 on the host under a temporary name before it is renamed into place.
//
// The package knows nothing of inventories: a Target is plain data, and a Pool asks a Lookup for the targets of
// the hosts it hands out. Host is the interface actions use, so that tests of pure logic can run in memory.
package remote
