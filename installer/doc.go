// Package installer is `berth install`: it turns hosts described by an inventory into a highly available
// Kubernetes cluster from an offline bundle, over SSH, and nothing else (no downloads, no registry pulls).
//
// The install is an ordered list of phases, one per file, run by internal/phase: connect, facts, preflight, stage
// bundle, OS preparation, container runtime, images, load balancer, init, join secrets, join control planes, join
// workers, CNI, cluster DNS, nodes, kubeconfig. Every phase reads the hosts first and changes only what differs, through the
// runner's gate: a dry run prints exactly what a real run would do, a second install changes nothing, and a run
// stopped at any point (even by SIGKILL) resumes from the journal and converges. After the API server is up,
// berth talks to it with client-go through an SSH tunnel to a control plane, so the machine running berth never
// needs a route to the control plane's network.
//
// Status reports what runs (nodes, API servers, etcd members, the VIP's holder); Reset removes what berth
// installed.
//
// The package owns the cluster's membership, so the day-2 actions on it live here too: KubeconfigFor fetches the
// admin kubeconfig or issues a user's through the CertificateSigningRequest API; RemoveNode takes a node out (drain,
// haproxy and keepalived, etcd, reset, the Node), refusing before any change what would break etcd's quorum or the
// cluster; and a node added to the inventory joins on the next Install. The helpers that take a control plane out of
// rotation (SetAPIBackend, HandOffEtcdLeader) are shared with the upgrade and the certificate renewal.
package installer
