// Package upgrade moves a running cluster to the Kubernetes release of an offline bundle, in place and online:
// `berth upgrade plan` reads the hosts and the cluster and says, before anything is touched, what moves from which
// version to which on every host, in which order, and whether anything stands in the way; `berth upgrade apply`
// takes an etcd snapshot, stages the bundle, upgrades the control planes one at a time (each taken out of every
// load balancer first), then berth's add-ons, then the workers in batches (cordon, drain with PodDisruptionBudgets
// honoured, upgrade, uncordon) with health gates between batches. It is an action over the install's shared phases,
// journaled, so a run killed at any point resumes where it stopped.
//
// The package also renews kubeadm's certificates, the other rolling operation on the control planes: CheckExpiration
// reads them on every control plane, RenewCertificates renews them one control plane at a time, each out of haproxy
// and with its static pods restarted, the API answering throughout.
//
// The control plane moves one minor at a time (several bundles give the hops); every kubelet moves once, straight
// to the target, as the skew policy lets kubelets stay up to three minors behind the API server.
package upgrade
