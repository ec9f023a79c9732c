package remote

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/berthsh/berth/internal/localfile"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials are the ways one login can authenticate.
type credentials struct {
	user          string
	identityFiles []string
	agent         bool
	password      Secret // nil when there is none
}

// authMethods builds the SSH auth methods. The returned closer releases the ssh-agent connection, if one was opened;
// it stays open for the life of the connection because the agent signs each new channel's auth lazily.
func (c credentials) authMethods() ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	for _, f := range c.identityFiles {
		s, err := loadKey(f)
		if err != nil {
			return nil, nil, err
		}
		signers = append(signers, s)
	}
	closer := func() {}
	var agentSigners func() ([]ssh.Signer, error)
	if c.agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, errors.New("ssh.agent is true but SSH_AUTH_SOCK is not set: start ssh-agent and ssh-add the key, or list identityFiles")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to ssh-agent at SSH_AUTH_SOCK: %w", err)
		}
		closer = func() { conn.Close() }
		agentSigners = agent.NewClient(conn).Signers
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 || agentSigners != nil {
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			out := append([]ssh.Signer(nil), signers...)
			if agentSigners != nil {
				more, err := agentSigners()
				if err != nil {
					return out, fmt.Errorf("list ssh-agent keys: %w", err)
				}
				out = append(out, more...)
			}
			return out, nil
		}))
	}
	if c.password != nil {
		pw, err := c.password()
		if err != nil {
			closer()
			return nil, nil, fmt.Errorf("read ssh password: %w", err)
		}
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		closer()
		return nil, nil, fmt.Errorf("no way to log in as %s: set ssh.identityFiles, ssh.agent or ssh.passwordFrom", c.user)
	}
	return methods, closer, nil
}

// loadKey reads an unencrypted private key (a regular file of at most 64 KiB). Encrypted keys belong in the agent:
// berth never asks for a passphrase.
func loadKey(path string) (ssh.Signer, error) {
	data, _, err := localfile.Read(path, localfile.SecretLimit)
	if err != nil {
		return nil, fmt.Errorf("read identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, fmt.Errorf("identity file %s is protected by a passphrase: load it into the agent (ssh-add %s) and set ssh.agent: true", path, path)
		}
		return nil, fmt.Errorf("parse identity file %s: %w", path, err)
	}
	return s, nil
}
