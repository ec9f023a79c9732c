package remote

import "time"

// Target says where one host is and how to log in to it. It is plain data: callers map their own description of
// hosts (an inventory) onto it.
type Target struct {
	Host          string        // name of the host, for messages
	Address       string        // address dialled
	Port          int           // SSH port; 0 means 22
	User          string        // login user
	IdentityFiles []string      // absolute paths of private keys
	Agent         bool          // offer ssh-agent keys
	Password      Secret        // login password, read only when the connection is opened; nil when none
	Sudo          bool          // run commands through sudo
	SudoPassword  Secret        // the password sudo asks for, sent on its standard input; nil when sudo must not ask
	KnownHosts    string        // absolute path of known_hosts, if any
	HostKeys      []string      // pinned SHA256 fingerprints, if any
	HostKeysAt    string        // where the pins are configured ("hosts[cp1].ssh.hostKeys"), for messages
	Bastion       *Target       // jump host to connect through, if any (its own user, keys, password and pins)
	Timeout       time.Duration // connect timeout; 0 means 10s
	Keepalive     time.Duration // keepalive interval; 0 turns keepalives off
}

// Secret returns a secret when it is needed, so that it is read as late as possible and never kept in a Target.
// Its errors must name where the secret comes from, never its value.
type Secret func() (string, error)
