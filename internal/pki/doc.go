// Package pki keeps the certificate authorities berth runs itself, next to the cluster's state on the operator's
// machine, and issues the certificates they sign: today the registry CA, whose certificates name a registry's VIP
// and every replica's address, and which every node's containerd trusts.
//
//	ca, err := pki.LoadOrCreateCA(dir, "registry", time.Now()) // dir/registry-ca.crt (0644) and .key (0600)
//	cert, key, err := ca.Issue(pki.Leaf{Name: "system", IPs: []netip.Addr{vip, r1, r2}}, time.Now())
//
// Keys are ECDSA P-256. A CA is made once and kept: a key file that others can read, or a certificate and key that
// do not belong together, is refused with the file and the fix, never replaced silently (every node trusts the CA).
package pki
