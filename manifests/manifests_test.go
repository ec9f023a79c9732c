package manifests

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// requireTool returns the path of a real tool used to check a rendered file. Under CI it must exist.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (make deps installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func testCluster() Cluster {
	return Cluster{
		Name: "lab", KubernetesVersion: "v1.31.14", ImageRepository: "registry.k8s.io",
		ControlPlaneEndpoint: "10.20.0.100:6443", APIServerPort: 6444,
		PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/16", ClusterDomain: "cluster.local",
		CertSANs: []string{"10.20.0.100", "10.20.0.11", "10.20.0.12"}, ProxyMode: "iptables",
		APIServerArgs: map[string]string{"audit-log-maxage": "30"},
		Kubelet:       Kubelet{CgroupDriver: "cgroupfs", MaxPods: 110},
	}
}

func TestKubeadmInit(t *testing.T) {
	out, err := KubeadmInit(testCluster(), Node{Name: "cp1", Address: "10.20.0.11", ControlPlane: true}, "abcdef.0123456789abcdef", "0123")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kubeadm-init", out)
	docs := decodeAll(t, out)
	kinds := []string{}
	for _, d := range docs {
		kinds = append(kinds, d["kind"].(string))
	}
	if strings.Join(kinds, ",") != "InitConfiguration,ClusterConfiguration,KubeletConfiguration,KubeProxyConfiguration" {
		t.Errorf("kinds = %v", kinds)
	}
	reg := docs[0]["nodeRegistration"].(map[string]any)
	if reg["imagePullPolicy"] != "Never" {
		t.Error("images may be pulled")
	}
	if docs[0]["localAPIEndpoint"].(map[string]any)["bindPort"] != 6444 {
		t.Error("API server not on its own port behind haproxy")
	}
}

func TestKubeadmJoin(t *testing.T) {
	c := testCluster()
	j := Join{Token: "abcdef.0123456789abcdef", CACertHashes: []string{"sha256:00"}, CertificateKey: "0123"}
	out, err := KubeadmJoin(c, Node{Name: "cp2", Address: "10.20.0.12", ControlPlane: true}, j)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kubeadm-join-control-plane", out)
	w, err := KubeadmJoin(c, Node{Name: "w1", Address: "10.20.0.21", Taints: []string{"dedicated=db:NoSchedule"}}, j)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kubeadm-join-worker", w)
	if strings.Contains(string(w), "controlPlane:") {
		t.Error("worker join carries control-plane settings")
	}
	if _, err := KubeadmJoin(c, Node{Name: "cp3", Address: "10.20.0.13", ControlPlane: true}, Join{Token: "a.b", CACertHashes: []string{"x"}}); err == nil {
		t.Error("control-plane join without certificate key accepted")
	}
	bad := c
	bad.Kubelet.CgroupDriver = ""
	if _, err := KubeadmJoin(bad, Node{Name: "w1", Address: "10.20.0.21"}, j); err == nil {
		t.Error("empty cgroup driver accepted")
	}
}

func decodeAll(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			break
		}
		out = append(out, m)
	}
	return out
}

func TestHAProxyConfigChecksWithHAProxy(t *testing.T) {
	out, err := HAProxyConfig(HAProxy{VIP: "10.20.0.100", Port: 6443, APIServerPort: 6444, Backends: []Backend{{"cp1", "10.20.0.11"}, {"cp2", "10.20.0.12"}}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "haproxy.cfg", out)
	haproxy := requireTool(t, "haproxy")
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(path, out, 0o600)
	if res, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy rejects the configuration: %v\n%s", err, res)
	}
	if _, err := HAProxyConfig(HAProxy{VIP: "10.20.0.100", Port: 6443, APIServerPort: 6443, Backends: []Backend{{"a", "1.2.3.4"}}}); err == nil {
		t.Error("same port for haproxy and API servers accepted")
	}
	if _, err := HAProxyConfig(HAProxy{Port: 6443, APIServerPort: 6444, Backends: []Backend{{"a", "1.2.3.4"}}}); err == nil {
		t.Error("haproxy without a VIP accepted: it would listen on every address")
	}
	if !strings.Contains(string(out), "bind 10.20.0.100:6443 transparent\n") || !strings.Contains(string(out), "bind 127.0.0.1:6443\n") ||
		strings.Contains(string(out), "bind :") {
		t.Errorf("haproxy listens elsewhere than the VIP and loopback:\n%s", out)
	}
}

func TestKeepalivedConfigChecksWithKeepalived(t *testing.T) {
	k := Keepalived{NodeName: "cp1", Plane: "control", Interface: "eth1", SourceIP: "10.20.0.11",
		Peers: []string{"10.20.0.12", "10.20.0.13"}, VIP: "10.20.0.100", PrefixLen: 24, RouterID: 51, Priority: 150,
		CheckScript: "/etc/keepalived/berth-check-haproxy.sh"}
	out, err := KeepalivedConfig(k)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "keepalived.conf", out)
	keepalived := requireTool(t, "keepalived")
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(path, out, 0o600)
	res, err := exec.Command(keepalived, "--config-test", "-f", path).CombinedOutput()
	// keepalived reports a missing check script and an absent interface as warnings here; syntax errors fail.
	if err != nil && !strings.Contains(string(res), "eth1") && !strings.Contains(string(res), "berth-check") {
		t.Fatalf("keepalived rejects the configuration: %v\n%s", err, res)
	}
	for _, bad := range []Keepalived{{}, func() Keepalived { b := k; b.RouterID = 256; return b }(), func() Keepalived { b := k; b.VIP = "x"; return b }()} {
		if _, err := KeepalivedConfig(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	check, _ := KeepalivedCheck(6443)
	if !strings.Contains(string(check), "/dev/tcp/127.0.0.1/6443") {
		t.Errorf("check script: %s", check)
	}
}

func TestContainerdConfigLoadsInContainerd(t *testing.T) {
	out, err := ContainerdConfig(Containerd{SandboxImage: "registry.k8s.io/pause:3.10", RestrictOOMScoreAdj: true})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "containerd.toml", out)
	plain, _ := ContainerdConfig(Containerd{SandboxImage: "registry.k8s.io/pause:3.10", SystemdCgroup: true})
	if strings.Contains(string(plain), "restrict_oom_score_adj") || !strings.Contains(string(plain), "SystemdCgroup = true") {
		t.Errorf("facts not reflected:\n%s", plain)
	}
	containerd := requireTool(t, "containerd")
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, out, 0o600)
	res, err := exec.Command(containerd, "--config", path, "config", "dump").CombinedOutput()
	if err != nil {
		t.Fatalf("containerd cannot load the configuration: %v\n%s", err, res)
	}
	for _, want := range []string{`sandbox_image = "registry.k8s.io/pause:3.10"`, "restrict_oom_score_adj = true", "SystemdCgroup = false"} {
		if !strings.Contains(string(res), want) {
			t.Errorf("containerd's effective configuration lacks %q", want)
		}
	}
}

func TestKubeletUnit(t *testing.T) {
	unit, dropIn, err := KubeletUnit("/usr/local/bin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/kubelet") || !strings.Contains(string(dropIn), "$KUBELET_KUBEADM_ARGS") {
		t.Errorf("unit:\n%s\ndrop-in:\n%s", unit, dropIn)
	}
}

// TestFlannelManifestsDecodeStrictly decodes every object with the Kubernetes scheme in strict mode, so a field
// the API does not know fails here rather than on the cluster.
func TestFlannelManifestsDecodeStrictly(t *testing.T) {
	out, err := FlannelManifests(Flannel{Image: "docker.io/flannel/flannel:v0.28.4", PodCIDR: "10.244.0.0/16", Plane: "business", IfaceCanReach: "10.40.0.254"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "flannel.yaml", out)
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	kinds := []string{}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		obj, gvk, err := codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, doc)
		}
		_ = obj
		kinds = append(kinds, gvk.Kind)
	}
	if strings.Join(kinds, ",") != "Namespace,ServiceAccount,ClusterRole,ClusterRoleBinding,ConfigMap,DaemonSet" {
		t.Errorf("kinds = %v", kinds)
	}
	if !strings.Contains(string(out), "imagePullPolicy: Never\n") {
		t.Error("flannel may pull an image the nodes imported")
	}
	pulled, err := FlannelManifests(Flannel{Image: "docker.io/flannel/flannel:v0.28.4", PodCIDR: "10.244.0.0/16", IfaceCanReach: "10.40.0.254",
		PullPolicy: PullPolicy(true)})
	if err != nil || !strings.Contains(string(pulled), "imagePullPolicy: IfNotPresent\n") {
		t.Errorf("flannel pulled from the System registry: %v\n%s", err, pulled)
	}
	if _, err := FlannelManifests(Flannel{Image: "x", PodCIDR: "10.244.0.0/16", IfaceCanReach: "nope"}); err == nil {
		t.Error("bad probe address accepted")
	}
	conf, _ := CNIConf()
	if !strings.Contains(string(conf), `"type": "flannel"`) {
		t.Error("CNI conf lacks flannel")
	}
}

func TestAPIServerPatch(t *testing.T) {
	name, content, err := APIServerPatch("10.20.0.11")
	if err != nil || name != "kube-apiserver+json.json" || !strings.Contains(string(content), "--bind-address=10.20.0.11") {
		t.Fatalf("%s %s %v", name, content, err)
	}
	if _, _, err := APIServerPatch("x"); err == nil {
		t.Error("bad address accepted")
	}
}

// The control-plane patches apply as kubeadm applies them (JSON patches on each static pod), bind the API server,
// and give each static pod a UID that is the same for the same node, pod and version and changes with any of them.
func TestControlPlanePatches(t *testing.T) {
	uids := map[string]string{} // UID -> node/pod/version
	for _, node := range []string{"cp1", "cp2"} {
		for _, version := range []string{"v1.31.14", "v1.32.5"} {
			patches, err := ControlPlanePatches("10.20.0.11", node, version)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := ControlPlanePatches("10.20.0.11", node, version)
			if !reflect.DeepEqual(patches, again) {
				t.Errorf("%s %s: two calls give different patches", node, version)
			}
			if len(patches) != 4 {
				t.Fatalf("%d patches, want one per static pod", len(patches))
			}
			for _, p := range patches {
				target, ok := strings.CutSuffix(p.Name, "+json.json")
				if !ok {
					t.Fatalf("patch file %s is not a JSON patch kubeadm reads", p.Name)
				}
				jp, err := jsonpatch.DecodePatch(p.Content)
				if err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
				out, err := jp.Apply([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + target + `","namespace":"kube-system"},"spec":{"containers":[{"name":"` + target + `","command":["` + target + `"]}]}}`))
				if err != nil {
					t.Fatalf("%s does not apply to a static pod: %v", p.Name, err)
				}
				var pod corev1.Pod
				if err := json.Unmarshal(out, &pod); err != nil {
					t.Fatal(err)
				}
				uid := string(pod.UID)
				if len(uid) != 32 {
					t.Errorf("%s: UID %q", p.Name, uid)
				}
				what := node + "/" + target + "/" + version
				if other, seen := uids[uid]; seen {
					t.Errorf("%s and %s share UID %s", what, other, uid)
				}
				uids[uid] = what
				bound := slices.Contains(pod.Spec.Containers[0].Command, "--bind-address=10.20.0.11")
				if bound != (target == "kube-apiserver") {
					t.Errorf("%s: bind address in the command is %v", p.Name, bound)
				}
			}
		}
	}
	if _, err := ControlPlanePatches("10.20.0.11", "cp1", ""); err == nil {
		t.Error("no version accepted")
	}
	if _, err := ControlPlanePatches("x", "cp1", "v1.31.14"); err == nil {
		t.Error("bad address accepted")
	}
}

// The API servers keep etcd's client retries (APIServerTracing off) on the minors where tracing is a beta gate on by
// default, and an inventory that sets the gate decides.
func TestAPIServerGates(t *testing.T) {
	for _, tc := range []struct {
		version string
		set     map[string]bool
		want    string
	}{
		{"v1.31.4", nil, "APIServerTracing=false"},
		{"v1.27.0", map[string]bool{"Foo": true}, "APIServerTracing=false,Foo=true"},
		{"v1.33.13", nil, "APIServerTracing=false"},
		{"v1.32.5", map[string]bool{"APIServerTracing": true}, "APIServerTracing=true"},
		{"v1.26.3", nil, ""},
		{"v1.34.0", nil, ""},
		{"not-a-version", nil, ""},
	} {
		c := testCluster()
		c.KubernetesVersion, c.FeatureGates = tc.version, tc.set
		if got := featureGates(apiServerGates(c)); got != tc.want {
			t.Errorf("%s with %v: feature gates %q, want %q", tc.version, tc.set, got, tc.want)
		}
		if tc.set == nil && c.FeatureGates != nil {
			t.Errorf("%s: the cluster's gates were changed", tc.version)
		}
	}
}
