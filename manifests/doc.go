// Package manifests renders every file berth puts on a host or into the cluster: the kubeadm configuration,
// keepalived and haproxy for the API VIP, containerd's configuration, the kubelet's systemd unit, the CNI, and the cluster DNS Helm chart
// (charts/berth-dns: dnsmasq in host network on the DNS hosts).
// Templates are embedded; each has a typed input and a Render function, and rendering fails on any missing value
// instead of writing an incomplete file. The package is a leaf: it knows nothing of inventories or hosts.
package manifests
