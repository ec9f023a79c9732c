package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berthsh/berth/internal/kube"
	"github.com/berthsh/berth/internal/phase"
	"github.com/berthsh/berth/internal/remote"
	"github.com/berthsh/berth/manifests"
)

// dnsWait bounds each wait of the DNS phase: for the pods to be replaced, for dnsmasq to start, for DNS to answer.
const dnsWait = 5 * time.Minute

// readLabels plans the DNS label of every node: set on the DNS hosts, removed elsewhere.
func (p *installDNS) readLabels(ctx context.Context, k *kube.Client) error {
	nodes, err := k.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	have := map[string]bool{}
	for _, n := range nodes.Items {
		have[n.Name] = n.Labels[manifests.DNSNodeLabel] == "true"
	}
	for _, h := range p.c.Inv.Nodes() {
		if want := isDNSHost(p.c.Inv, h.Name); want != have[h.Name] {
			p.labels[h.Name] = want
		}
	}
	return nil
}

func (p *installDNS) applyLabels(ctx context.Context) error {
	var names []string
	for n := range p.labels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		want := p.labels[n]
		action, value := "label node "+n+" "+manifests.DNSNodeLabel+"=true", any("true")
		if !want {
			action, value = "remove label "+manifests.DNSNodeLabel+" from node "+n, nil
		}
		err := p.Wet("", action, func() error {
			k, err := p.c.Kube(ctx)
			if err != nil {
				return err
			}
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{manifests.DNSNodeLabel: value}}})
			_, err = k.Clientset().CoreV1().Nodes().Patch(ctx, n, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
	}
	return nil
}

func (p *installDNS) applyRelease(ctx context.Context) error {
	k, err := p.c.Kube(ctx)
	if err != nil {
		return err
	}
	chart, err := manifests.DNSChart()
	if err != nil {
		return err
	}
	rel := p.rel
	if rel == nil {
		if rel, err = k.Release(manifests.DNSRelease, manifests.DNSNamespace); err != nil {
			return err
		}
	}
	r, err := rel.Apply(ctx, chart, p.values.Map(), dnsWait)
	if err != nil {
		return err
	}
	p.Logf("", "release %s revision %d %s", r.Name, r.Version, r.Info.Status)
	return nil
}

// dnsPods returns the DNS pods on a node (terminating ones included).
func dnsPods(ctx context.Context, k *kube.Client, node string) ([]corev1.Pod, error) {
	list, err := k.Clientset().CoreV1().Pods(manifests.DNSNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/name=" + manifests.DNSRelease, FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, fmt.Errorf("list the DNS pods on %s: %w", node, err)
	}
	return list.Items, nil
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// startHostDnsmasq (re)starts the host's dnsmasq once no DNS pod with its own dnsmasq runs on the host (after a
// change from the management variant the old pods go one host at a time).
func (p *installDNS) startHostDnsmasq(ctx context.Context, host string, e remote.Host) error {
	k, err := p.c.Kube(ctx)
	if err != nil {
		return err
	}
	return phase.Poll(ctx, phase.Wait{What: "start dnsmasq on " + host, Timeout: dnsWait, Check: func(ctx context.Context) (bool, string, error) {
		pods, err := dnsPods(ctx, k, host)
		if err != nil {
			return false, err.Error(), nil
		}
		for i := range pods {
			if hasContainer(&pods[i], "dnsmasq") {
				return false, fmt.Sprintf("pod %s still runs dnsmasq in the pod", pods[i].Name), nil
			}
		}
		if _, err := e.Exec(ctx, "systemctl restart "+dnsmasqUnit); err != nil {
			log, _ := e.Exec(ctx, "journalctl -u "+dnsmasqUnit+" -n 5 --no-pager 2>&1 || true")
			err = fmt.Errorf("%w\n%s", err, log)
			// A configuration dnsmasq refuses will not get better by waiting (port 53 still taken might).
			if out, cerr := e.Exec(ctx, "dnsmasq --test --conf-file="+remote.Quote(manifests.DNSHostConfPath)+" 2>&1"); cerr != nil {
				return false, "", fmt.Errorf("dnsmasq refuses %s: %s: %w", manifests.DNSHostConfPath, out, err)
			}
			return false, err.Error(), nil
		}
		return true, "", nil
	}}, nil)
}

// stopHostDnsmasq stops the host's dnsmasq: at once where no DNS pod will need the port, on a DNS host of the
// management variant once its new DNS pod (with dnsmasq) is there, so that the host answers until the last moment.
func (p *installDNS) stopHostDnsmasq(ctx context.Context, host string, e remote.Host) error {
	stop := func() error {
		_, err := e.Exec(ctx, "systemctl stop "+dnsmasqUnit)
		return err
	}
	if !isDNSHost(p.c.Inv, host) {
		return stop()
	}
	k, err := p.c.Kube(ctx)
	if err != nil {
		return err
	}
	return phase.Poll(ctx, phase.Wait{What: "stop the host's dnsmasq on " + host, Timeout: dnsWait, Check: func(ctx context.Context) (bool, string, error) {
		pods, err := dnsPods(ctx, k, host)
		if err != nil {
			return false, err.Error(), nil
		}
		for i := range pods {
			if pods[i].DeletionTimestamp == nil && hasContainer(&pods[i], "dnsmasq") {
				return true, "", stop()
			}
		}
		return false, "the DNS pod with dnsmasq has not been created there yet", nil
	}}, nil)
}

// DNSAnswers is the wait until dnsmasq on every DNS host answers for the cluster domain, every DNS host is a
// ready endpoint of the kube-dns Service, and the Service's address answers.
func (c *Cluster) DNSAnswers(timeout time.Duration) (phase.Wait, error) {
	t, err := newDNSTargets(c.Inv)
	if err != nil {
		return phase.Wait{}, err
	}
	return c.dnsAnswers(t, timeout), nil
}

func (c *Cluster) dnsAnswers(t dnsTargets, timeout time.Duration) phase.Wait {
	inv := c.Inv
	hosts := inv.DNSHosts()
	return phase.Wait{What: "cluster DNS to answer on " + strings.Join(names(hosts), ", ") + " and through the kube-dns Service",
		Timeout: timeout, Check: func(ctx context.Context) (bool, string, error) {
			k, err := c.Kube(ctx)
			if err != nil {
				return false, "", err
			}
			var errs []error
			for _, h := range hosts {
				e, err := c.Host(h.Name)
				if err == nil {
					_, err = t.askThrough(ctx, e, dnsEndpoint(inv, h))
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", h.Name, err))
				}
			}
			ready, err := readyDNSEndpoints(ctx, k)
			if err != nil {
				errs = append(errs, err)
			} else if len(ready) < len(hosts) {
				errs = append(errs, fmt.Errorf("the kube-dns Service has %d ready endpoints (%s) of %d", len(ready),
					strings.Join(ready, ", "), len(hosts)))
			}
			if e, err := c.Host(hosts[0].Name); err == nil {
				if _, err := t.askThrough(ctx, e, net.JoinHostPort(t.ServiceIP.String(), "53")); err != nil {
					errs = append(errs, fmt.Errorf("the kube-dns Service: %w", err))
				}
			}
			if len(errs) > 0 {
				return false, errors.Join(errs...).Error(), nil
			}
			return true, fmt.Sprintf("cluster DNS answers on %d hosts and through the kube-dns Service %s", len(hosts), t.ServiceIP), nil
		}}
}

// waitAnswers waits until cluster DNS answers (answers); when it does not, the error describes the DNS pods.
func (p *installDNS) waitAnswers(ctx context.Context) error {
	err := p.Wait(ctx, "", p.c.dnsAnswers(p.targets, dnsWait))
	if err != nil {
		if k, kerr := p.c.Kube(ctx); kerr == nil {
			return fmt.Errorf("%w\n%s", err, p.podDiagnosis(ctx, k))
		}
	}
	return err
}

// readyDNSEndpoints returns the nodes of the kube-dns Service's ready endpoints.
func readyDNSEndpoints(ctx context.Context, k *kube.Client) ([]string, error) {
	slices, err := k.Clientset().DiscoveryV1().EndpointSlices(manifests.DNSNamespace).List(ctx,
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + manifests.DNSService})
	if err != nil {
		return nil, fmt.Errorf("list the kube-dns endpoints: %w", err)
	}
	var out []string
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready && ep.NodeName != nil {
				out = append(out, *ep.NodeName)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// podDiagnosis describes the DNS pods' containers that are not ready, for an error message.
func (p *installDNS) podDiagnosis(ctx context.Context, k *kube.Client) string {
	list, err := k.Clientset().CoreV1().Pods(manifests.DNSNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + manifests.DNSRelease})
	if err != nil {
		return "DNS pods: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "DNS pods (kubectl -n %s get pods -l app.kubernetes.io/name=%s -o wide):", manifests.DNSNamespace, manifests.DNSRelease)
	for _, pod := range list.Items {
		fmt.Fprintf(&b, "\n - %s on %s: %s", pod.Name, pod.Spec.NodeName, pod.Status.Phase)
		for _, cs := range pod.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil:
				fmt.Fprintf(&b, "; %s waiting (%s: %s)", cs.Name, cs.State.Waiting.Reason, firstLine(cs.State.Waiting.Message))
			case cs.State.Terminated != nil:
				fmt.Fprintf(&b, "; %s terminated (%s)", cs.Name, cs.State.Terminated.Reason)
			case !cs.Ready:
				fmt.Fprintf(&b, "; %s not ready (%d restarts)", cs.Name, cs.RestartCount)
			}
		}
	}
	return b.String()
}
