package installer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthsh/berth/internal/action"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/inventory"
)

// Lifetimes of a user's client certificate (berth kubeconfig --user).
const (
	DefaultUserExpiry = 24 * time.Hour   // short-lived unless asked otherwise
	MinUserExpiry     = 10 * time.Minute // the CertificateSigningRequest API signs for no less
)

// Stdout as KubeconfigOptions.Out: the caller prints the kubeconfig, because the user asked for it on stdout.
const Stdout = "-"

// KubeconfigOptions configure berth kubeconfig: the cluster's admin kubeconfig, or a user's.
type KubeconfigOptions struct {
	Inventory *inventory.Inventory
	StateDir  string        // base of the state directories; "" for the default
	User      string        // "" for the admin kubeconfig; else the user's name (the certificate's CN)
	Groups    []string      // the user's groups (the certificate's O)
	Expiry    time.Duration // the user's certificate lifetime; 0 for DefaultUserExpiry
	// Out is the file to write (0600, replaced atomically), or Stdout. "" means the admin kubeconfig berth keeps in
	// the cluster's state directory; a user's kubeconfig needs Out, so that a private key is never put anywhere
	// the user did not say.
	Out       string
	Observers []phase.Observer
	Logger    *slog.Logger
	Pool      *remote.Pool
}

// Kubeconfig is what berth kubeconfig made: whom it authenticates, where it points, until when. Content holds the
// private key and is not part of the JSON.
type Kubeconfig struct {
	Cluster  string    `json:"cluster"`
	Server   string    `json:"server"`
	User     string    `json:"user"`             // the certificate's common name
	Groups   []string  `json:"groups,omitempty"` // its organisations
	Admin    bool      `json:"admin"`
	NotAfter time.Time `json:"notAfter"`       // the client certificate expires then
	File     string    `json:"file,omitempty"` // where it was written ("" on stdout)
	Changed  bool      `json:"changed"`        // the file was written (false: it already held this kubeconfig)
	Content  []byte    `json:"-"`
}

// check refuses options that cannot make a kubeconfig, before anything is read.
func (o KubeconfigOptions) check() error {
	if o.Inventory == nil {
		return errors.New("a kubeconfig needs an inventory")
	}
	if o.User == "" {
		if len(o.Groups) > 0 || o.Expiry != 0 {
			return errors.New("--groups and --expiry are for a user's kubeconfig (--user NAME); the admin kubeconfig is kubeadm's")
		}
		return nil
	}
	if o.Out == "" {
		return fmt.Errorf("say where to write %s's kubeconfig with --out FILE (or --out - for stdout): it holds the user's private key", o.User)
	}
	if err := CheckUser(o.User, o.Groups); err != nil {
		return err
	}
	if o.Expiry != 0 && o.Expiry < MinUserExpiry {
		return fmt.Errorf("--expiry %s: the cluster signs client certificates for at least %s", o.Expiry, MinUserExpiry)
	}
	return nil
}

// CheckUser refuses names that would make a certificate more powerful than intended: system: users and groups
// are Kubernetes' own components, and a certificate in system:masters passes every authorization check and cannot
// be revoked.
func CheckUser(user string, groups []string) error {
	if strings.TrimSpace(user) != user || strings.ContainsAny(user, "\n\r\t,") {
		return fmt.Errorf("--user %q: a user name has no spaces around it, no commas and no control characters", user)
	}
	if strings.HasPrefix(user, "system:") {
		return fmt.Errorf("--user %s: names starting with system: belong to Kubernetes' own components; choose a person's or a robot's name", user)
	}
	for _, g := range groups {
		switch {
		case g == "system:masters":
			return errors.New("--groups system:masters: its certificates pass every authorization check and cannot be revoked before they expire; " +
				"give the group a role instead (kubectl create clusterrolebinding NAME --clusterrole=cluster-admin --group=GROUP)")
		case strings.HasPrefix(g, "system:"):
			return fmt.Errorf("--groups %s: groups starting with system: belong to Kubernetes' own components", g)
		case g == "" || strings.TrimSpace(g) != g || strings.ContainsAny(g, "\n\r\t,"):
			return fmt.Errorf("--groups %q: a group name is not empty and has no spaces around it, no commas and no control characters", g)
		}
	}
	return nil
}

// KubeconfigFor returns the cluster's admin kubeconfig, read from a control plane (kubeadm's admin.conf, pointed at
// the VIP), or issues a user's: a key made on this machine, a CertificateSigningRequest for
// kubernetes.io/kube-apiserver-client with the expiry asked for, approved, and the signed certificate. The cluster
// CA's key never leaves the control planes. The kubeconfig is written 0600 to o.Out, or returned for the caller to
// print when o.Out is Stdout. It changes no host and takes no lock.
func KubeconfigFor(ctx context.Context, o KubeconfigOptions) (*Kubeconfig, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	a, err := action.Open(action.Options{Action: "kubeconfig", Inventory: o.Inventory, StateDir: o.StateDir, ReadOnly: true,
		Observers: o.Observers, Logger: o.Logger, Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c := NewCluster(a, o.Inventory, nil, "")
	cps := names(o.Inventory.ControlPlanes())
	p := &issueKubeconfig{c: c, o: o}
	if _, err := a.Run(ctx, &Connect{C: c, Hosts: cps}, &Facts{C: c, Hosts: cps}, p); err != nil {
		return nil, err
	}
	kc := p.out
	switch o.Out {
	case Stdout:
		return kc, nil
	case "":
		kc.File = filepath.Join(a.Dir, KubeconfigFile)
	default:
		kc.File = o.Out
	}
	kc.Changed, err = writePrivateFile(kc.File, kc.Content)
	return kc, err
}

// writePrivateFile replaces path with data, mode 0600, unless it already holds exactly that; it reports whether it
// wrote. The file is written under a temporary name beside it and renamed: a reader never sees half a kubeconfig,
// and no other mode is ever visible.
func writePrivateFile(path string, data []byte) (bool, error) {
	if have, err := os.ReadFile(path); err == nil && string(have) == string(data) {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm() == 0o600 {
			return false, nil
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// adminKubeconfig reads what berth kubeconfig says about an admin kubeconfig, pointing it at server when kubeadm
// wrote another address.
func adminKubeconfig(raw []byte, cluster, server string) (*Kubeconfig, error) {
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("read admin.conf: %w", err)
	}
	kc := &Kubeconfig{Cluster: cluster, Server: server, Admin: true, Content: raw}
	moved := false
	for _, cl := range cfg.Clusters {
		if cl.Server != server {
			cl.Server, moved = server, true
		}
	}
	if moved {
		if kc.Content, err = clientcmd.Write(*cfg); err != nil {
			return nil, err
		}
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.AuthInfos[ctx.AuthInfo] == nil {
		return nil, errors.New("admin.conf has no current context with a user")
	}
	cert, err := parseCertificate(cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData)
	if err != nil {
		return nil, fmt.Errorf("admin.conf's client certificate: %w", err)
	}
	kc.User, kc.Groups, kc.NotAfter = cert.Subject.CommonName, cert.Subject.Organization, cert.NotAfter
	return kc, nil
}

// parseCertificate reads the first certificate of PEM data.
func parseCertificate(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
