package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// DefaultEtcdTimeout bounds one etcd call (a snapshot excepted) when EtcdOptions.Timeout is zero.
const DefaultEtcdTimeout = 15 * time.Second

// EtcdOptions configures an Etcd client.
type EtcdOptions struct {
	// Endpoints are the members' client URLs, https://IP:2379, one per member.
	Endpoints []string
	// CA, Cert and Key are PEM: the etcd CA and a client certificate it signed, as the caller read them from a
	// control plane (/etc/kubernetes/pki/etcd/ca.crt, healthcheck-client.crt and healthcheck-client.key).
	CA, Cert, Key []byte
	// Dial opens connections, through a tunnel (Client.DialContext or a control plane's executor); nil dials
	// directly.
	Dial DialFunc
	// Logger receives what the client does (Info); nil discards.
	Logger *slog.Logger
	// Timeout bounds one call; zero means DefaultEtcdTimeout.
	Timeout time.Duration
}

// Etcd talks to a cluster's etcd with the etcd v3 client.
type Etcd struct {
	o   EtcdOptions
	tls *tls.Config
	cli *clientv3.Client
	log *slog.Logger
}

// Member is one etcd member.
type Member struct {
	ID         uint64
	Name       string // empty until the member has started
	PeerURLs   []string
	ClientURLs []string
	Learner    bool
}

// Started reports whether the member has started: a member added but never started has no name yet.
func (m Member) Started() bool { return m.Name != "" }

// HexID returns the member's ID the way etcdctl prints it.
func (m Member) HexID() string { return hexID(m.ID) }

// NewEtcd builds an etcd client. It does not contact etcd.
func NewEtcd(o EtcdOptions) (*Etcd, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd client: no endpoints")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultEtcdTimeout
	}
	tc, err := etcdTLS(o.CA, o.Cert, o.Key)
	if err != nil {
		return nil, err
	}
	e := &Etcd{o: o, tls: tc, log: o.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.cli, err = e.client(o.Endpoints...); err != nil {
		return nil, err
	}
	return e, nil
}

// client builds an etcd client of some endpoints with the options' TLS and dialer.
func (e *Etcd) client(endpoints ...string) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		TLS:         e.tls.Clone(),
		DialTimeout: e.o.Timeout,
		Logger:      zap.NewNop(),
	}
	if dial := e.o.Dial; dial != nil {
		cfg.DialOptions = []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		})}
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client of %v: %w", endpoints, err)
	}
	return cli, nil
}

// etcdTLS builds the client's TLS configuration from PEM.
func etcdTLS(ca, cert, key []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("etcd client: the etcd CA is not a PEM certificate")
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// Close closes the client's connections.
func (e *Etcd) Close() error { return e.cli.Close() }

// Members lists the cluster's members.
func (e *Etcd) Members(ctx context.Context) ([]Member, error) {
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	resp, err := e.cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	out := make([]Member, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, Learner: m.IsLearner})
	}
	return out, nil
}

// MemberAt returns the member with a peer URL on host (an IP address or name), if any.
func MemberAt(members []Member, host string) (Member, bool) {
	for _, m := range members {
		for _, u := range m.PeerURLs {
			if p, err := url.Parse(u); err == nil && p.Hostname() == host {
				return m, true
			}
		}
	}
	return Member{}, false
}

// RemoveMember removes a member from the cluster.
func (e *Etcd) RemoveMember(ctx context.Context, id uint64) error {
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	if _, err := e.cli.MemberRemove(ctx, id); err != nil {
		return fmt.Errorf("remove etcd member %x: %w", id, err)
	}
	e.log.Info("etcd member removed", "id", hexID(id))
	return nil
}
