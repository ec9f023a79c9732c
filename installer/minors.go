package installer

// KubernetesMinors lists the Kubernetes minor releases this berth installs and upgrades to, oldest first: the
// releases its kubeadm configuration, add-ons and version rules are written for. A bundle of another minor may
// still work, but nothing tested it.
func KubernetesMinors() []string {
	return []string{"1.31", "1.32", "1.33"}
}
