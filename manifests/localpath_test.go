package manifests

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestLocalPathManifests renders the local-path class: the provisioner and its helper pods on the bundle's images
// with the pull policy given, volumes under the inventory's path, the StorageClass default only when asked, and
// bad input refused.
func TestLocalPathManifests(t *testing.T) {
	in := LocalPath{Image: "berth.sh/local-path-provisioner:v0.0.30", HelperImage: "berth.sh/busybox:1.35.0",
		Class: "local-path", Path: "/srv/volumes", Default: true, PullPolicy: "IfNotPresent"}
	y, err := LocalPathManifests(in)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(y), "\n---\n")
	kinds := map[string]string{}
	for _, d := range docs {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		kinds[obj.Kind] = d
		switch obj.Kind {
		case "StorageClass":
			if obj.Metadata.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
				t.Errorf("the class is not the default: %s", d)
			}
		case "ConfigMap":
			if !strings.Contains(obj.Data["config.json"], `"paths": ["/srv/volumes"]`) ||
				!strings.Contains(obj.Data["helperPod.yaml"], "image: berth.sh/busybox:1.35.0") ||
				!strings.Contains(obj.Data["helperPod.yaml"], "imagePullPolicy: IfNotPresent") {
				t.Errorf("config: %v", obj.Data)
			}
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Deployment", "StorageClass"} {
		if kinds[k] == "" {
			t.Errorf("no %s rendered", k)
		}
	}
	if d := kinds["Deployment"]; !strings.Contains(d, "image: berth.sh/local-path-provisioner:v0.0.30") ||
		!strings.Contains(d, "--helper-image=berth.sh/busybox:1.35.0") || !strings.Contains(d, "--provisioner-name="+LocalPathProvisioner) {
		t.Errorf("deployment:\n%s", d)
	}

	in.Default, in.PullPolicy = false, ""
	y, _ = LocalPathManifests(in)
	if !strings.Contains(string(y), `is-default-class: "false"`) || !strings.Contains(string(y), "imagePullPolicy: Never") {
		t.Errorf("not default, images imported: %s", y)
	}
	for _, bad := range []LocalPath{{HelperImage: "x", Path: "/v"}, {Image: "x", HelperImage: "y", Path: "v"}, {Image: "x", HelperImage: "y", Path: "/v/../w"}} {
		if _, err := LocalPathManifests(bad); err == nil {
			t.Errorf("%+v rendered", bad)
		}
	}
}
