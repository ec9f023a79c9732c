package upgrade

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Certificate is one of kubeadm's certificates on a control plane, as berth certs check-expiration shows it.
type Certificate struct {
	Name      string    `json:"name"`                // kubeadm's name: apiserver, admin.conf, etcd-server, ca
	File      string    `json:"file"`                // where it is on the host
	Subject   string    `json:"subject"`             // its common name
	NotBefore time.Time `json:"notBefore"`           // when it was issued
	NotAfter  time.Time `json:"notAfter"`            // when it expires
	Residual  string    `json:"residualTime"`        // "364d", "23h", "expired"
	Authority string    `json:"authority,omitempty"` // the CA that signed it (ca, etcd-ca, front-proxy-ca); none for a CA
	CA        bool      `json:"ca"`                  // a certificate authority: berth certs renew leaves it
	UsedBy    string    `json:"usedBy,omitempty"`    // the control-plane component that loads it when it starts
	// Stale is a certificate written after its component started: the component still uses the one before, until
	// it restarts (berth certs renew restarts it).
	Stale bool `json:"stale,omitempty"`
}

// HostCertificates are the certificates of one control plane.
type HostCertificates struct {
	Host         string        `json:"host"`
	Certificates []Certificate `json:"certificates"`
	Error        string        `json:"error,omitempty"` // the host could not be read
}

// Certificates are kubeadm's certificates on every control plane of a cluster.
type Certificates struct {
	Cluster string             `json:"cluster"`
	Read    time.Time          `json:"read"`
	Hosts   []HostCertificates `json:"hosts"`
}

// kubeadmCert is one certificate kubeadm makes on every control plane (kubeadm certs check-expiration's list).
type kubeadmCert struct {
	name, file, authority, usedBy string
	kubeconfig                    bool // the certificate is client-certificate-data in a kubeconfig
}

// kubeadmCerts lists them: the leaves kubeadm certs renew renews, then the CAs it leaves.
var kubeadmCerts = []kubeadmCert{
	{name: "admin.conf", file: "/etc/kubernetes/admin.conf", authority: "ca", kubeconfig: true},
	{name: "apiserver", file: "/etc/kubernetes/pki/apiserver.crt", authority: "ca", usedBy: "kube-apiserver"},
	{name: "apiserver-etcd-client", file: "/etc/kubernetes/pki/apiserver-etcd-client.crt", authority: "etcd-ca", usedBy: "kube-apiserver"},
	{name: "apiserver-kubelet-client", file: "/etc/kubernetes/pki/apiserver-kubelet-client.crt", authority: "ca", usedBy: "kube-apiserver"},
	{name: "controller-manager.conf", file: "/etc/kubernetes/controller-manager.conf", authority: "ca", usedBy: "kube-controller-manager", kubeconfig: true},
	{name: "etcd-healthcheck-client", file: "/etc/kubernetes/pki/etcd/healthcheck-client.crt", authority: "etcd-ca"},
	{name: "etcd-peer", file: "/etc/kubernetes/pki/etcd/peer.crt", authority: "etcd-ca", usedBy: "etcd"},
	{name: "etcd-server", file: "/etc/kubernetes/pki/etcd/server.crt", authority: "etcd-ca", usedBy: "etcd"},
	{name: "front-proxy-client", file: "/etc/kubernetes/pki/front-proxy-client.crt", authority: "front-proxy-ca", usedBy: "kube-apiserver"},
	{name: "scheduler.conf", file: "/etc/kubernetes/scheduler.conf", authority: "ca", usedBy: "kube-scheduler", kubeconfig: true},
	{name: "super-admin.conf", file: "/etc/kubernetes/super-admin.conf", authority: "ca", kubeconfig: true},
	{name: "ca", file: "/etc/kubernetes/pki/ca.crt"},
	{name: "etcd-ca", file: "/etc/kubernetes/pki/etcd/ca.crt"},
	{name: "front-proxy-ca", file: "/etc/kubernetes/pki/front-proxy-ca.crt"},
}

// components are the control plane's static pods that load certificates when they start, by the name pgrep
// matches (the kernel keeps 15 characters of a process's name).
var components = map[string]string{
	"kube-apiserver": "kube-apiserver", "kube-controller": "kube-controller-manager", "kube-scheduler": "kube-scheduler", "etcd": "etcd",
}

// certsScript prints every kubeadm certificate of a control plane (base64 of its PEM, never a key: from a
// kubeconfig only client-certificate-data is read), its file's modification time, and when each control-plane
// component started. It only reads.
func certsScript() string {
	var b strings.Builder
	b.WriteString(`export LC_ALL=C
now=$(date +%s); echo "now $now"
crt() { [ -f "$2" ] && echo "cert $1 $2 $(stat -c %Y "$2") $(base64 -w0 "$2")"; true; }
conf() { [ -f "$2" ] || return 0; d=$(sed -n 's/^ *client-certificate-data: *//p' "$2" | head -n 1); [ -n "$d" ] && echo "cert $1 $2 $(stat -c %Y "$2") $d"; true; }
`)
	for _, c := range kubeadmCerts {
		fn := "crt"
		if c.kubeconfig {
			fn = "conf"
		}
		fmt.Fprintf(&b, "%s %s %s\n", fn, c.name, c.file)
	}
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, `for p in %s; do
  n=$(pgrep -cx "$p"); pid=$(pgrep -ox "$p")
  if [ -n "$pid" ]; then echo "proc $p $n $((now - $(ps -o etimes= -p "$pid")))"; fi
done
`, strings.Join(names, " "))
	return b.String()
}

// hostCerts is what certsScript printed, parsed.
type hostCerts struct {
	now      time.Time
	certs    []Certificate
	modified map[string]time.Time // certificate name -> its file's modification time
	started  map[string]time.Time // component -> when its oldest process started
	count    map[string]int       // component -> how many processes run
}

// parseCerts reads certsScript's output.
func parseCerts(out string) (*hostCerts, error) {
	h := &hostCerts{modified: map[string]time.Time{}, started: map[string]time.Time{}, count: map[string]int{}}
	byName := map[string]kubeadmCert{}
	for _, c := range kubeadmCerts {
		byName[c.name] = c
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "now" && len(f) == 2:
			sec, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("the host's clock: %q", f[1])
			}
			h.now = time.Unix(sec, 0)
		case f[0] == "cert" && len(f) == 5:
			kc, ok := byName[f[1]]
			if !ok {
				continue
			}
			mtime, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: modification time %q", f[2], f[3])
			}
			cert, err := decodeCert(f[4])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f[2], err)
			}
			h.modified[kc.name] = time.Unix(mtime, 0)
			h.certs = append(h.certs, Certificate{Name: kc.name, File: f[2], Subject: cert.Subject.CommonName, NotBefore: cert.NotBefore,
				NotAfter: cert.NotAfter, Authority: kc.authority, CA: cert.IsCA, UsedBy: kc.usedBy})
		case f[0] == "proc" && len(f) == 4:
			comp, ok := components[f[1]]
			n, err1 := strconv.Atoi(f[2])
			started, err2 := strconv.ParseInt(f[3], 10, 64)
			if !ok || err1 != nil || err2 != nil {
				continue
			}
			h.count[comp], h.started[comp] = n, time.Unix(started, 0)
		}
	}
	if h.now.IsZero() {
		return nil, fmt.Errorf("no certificate listing in the host's answer")
	}
	for i := range h.certs {
		c := &h.certs[i]
		c.Residual = Residual(c.NotAfter.Sub(h.now))
		if start, ok := h.started[c.UsedBy]; ok && start.Before(h.modified[c.Name]) {
			c.Stale = true
		}
	}
	return h, nil
}

// decodeCert reads base64 of a PEM certificate.
func decodeCert(b64 string) (*x509.Certificate, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// loaded reports whether every control-plane component runs as one process started after every certificate it
// loads was written, and if not, names what it waits for.
func (h *hostCerts) loaded() (bool, string) {
	var waiting []string
	for _, comp := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
		newest := time.Time{}
		for _, c := range h.certs {
			if c.UsedBy == comp && h.modified[c.Name].After(newest) {
				newest = h.modified[c.Name]
			}
		}
		switch {
		case h.count[comp] == 0:
			waiting = append(waiting, comp+" not running")
		case h.count[comp] > 1:
			waiting = append(waiting, comp+" still stopping")
		case h.started[comp].Before(newest):
			waiting = append(waiting, fmt.Sprintf("%s started %s, before its certificates (%s)", comp,
				h.started[comp].UTC().Format(time.TimeOnly), newest.UTC().Format(time.TimeOnly)))
		}
	}
	if len(waiting) > 0 {
		return false, strings.Join(waiting, "; ")
	}
	return true, "every control-plane component runs with the certificates on disk"
}

// Residual says how long is left: days when there is at least one, else hours or minutes; "expired" when none.
func Residual(d time.Duration) string {
	switch {
	case d <= 0:
		return "expired"
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}

// Soonest returns the certificate that expires first across every host, and its host.
func (cs *Certificates) Soonest() (string, *Certificate) {
	var host string
	var best *Certificate
	for i := range cs.Hosts {
		for j := range cs.Hosts[i].Certificates {
			c := &cs.Hosts[i].Certificates[j]
			if best == nil || c.NotAfter.Before(best.NotAfter) {
				host, best = cs.Hosts[i].Host, c
			}
		}
	}
	return host, best
}
