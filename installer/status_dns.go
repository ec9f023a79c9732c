package installer

import (
	"context"
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// dnsStatus reports each endpoint of the cluster's kube-dns Service: where DNS answers and whether it is ready.
func dnsStatus(ctx context.Context, c *Cluster) []EndpointStatus {
	k, err := c.Kube(ctx)
	if err != nil {
		return []EndpointStatus{{Detail: err.Error()}}
	}
	slices, err := k.cs.DiscoveryV1().EndpointSlices("kube-system").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kube-dns"})
	if err != nil {
		return []EndpointStatus{{Detail: "list kube-dns endpoints: " + err.Error()}}
	}
	var out []EndpointStatus
	for _, s := range slices.Items {
		port := int32(53)
		for _, p := range s.Ports {
			if p.Port != nil && p.Name != nil && *p.Name == "dns" {
				port = *p.Port
			}
		}
		for _, ep := range s.Endpoints {
			es := EndpointStatus{Healthy: ep.Conditions.Ready != nil && *ep.Conditions.Ready}
			if ep.NodeName != nil {
				es.Host = *ep.NodeName
			}
			if len(ep.Addresses) > 0 {
				es.Address = fmt.Sprintf("%s:%d", ep.Addresses[0], port)
			}
			if !es.Healthy {
				es.Detail = "endpoint not ready"
			}
			out = append(out, es)
		}
	}
	if len(out) == 0 {
		out = append(out, EndpointStatus{Detail: "the kube-dns Service has no endpoints"})
	}
	return out
}
