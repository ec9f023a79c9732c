package installer_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthsh/berth/airgap"
	"github.com/berthsh/berth/bundles"
	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/inventory"
)

// testLocalPath checks the default StorageClass of the shared lab: local-path, from the bundle. A claim that names
// no class binds to it when a pod on worker1 uses it; the pod writes a token, a second pod on the same node reads
// it back after the first is gone, and the token is in a directory under the inventory's path on worker1's disk.
// Deleting the claim removes that directory.
func testLocalPath(t *testing.T, env *e2eEnv) {
	ctx := context.Background()
	cs := env.kube(t)
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, inventory.LocalPathClass, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the local-path StorageClass: %v", err)
	}
	if sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("local-path is not the default class: %v", sc.Annotations)
	}
	busybox, err := airgap.ImageRef(env.openBundle(t).Manifest, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	worker := env.inv.Workers()[0].Name
	ns := "berth-e2e-storage"
	cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}}}}
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := fmt.Sprintf("berth-%d", time.Now().UnixNano())
	run := func(name, script string) string {
		t.Helper()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			// The scheduler, not nodeName, places the pod: a WaitForFirstConsumer claim binds where the scheduler puts it.
			NodeSelector:  map[string]string{"kubernetes.io/hostname": worker},
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "sh", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/bin/sh", "-c", script}, VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := waitPod(cs, ns, name, corev1.PodSucceeded, 3*time.Minute); err != nil {
			t.Fatalf("pod %s: %v\n%s", name, err, describeClaim(cs, ns, "data"))
		}
		logs := strings.TrimSpace(podLogs(cs, ns, name))
		if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		return logs
	}
	run("writer", "echo "+token+" > /data/proof")
	claim, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound || claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != inventory.LocalPathClass {
		t.Fatalf("the claim: %v %s", err, describeClaim(cs, ns, "data"))
	}
	if got := run("reader", "read l < /data/proof && echo $l"); got != token {
		t.Errorf("the second pod on %s read %q, want %q", worker, got, token)
	}
	_, stdout, stderr := env.run(t, 2*time.Minute, "status", "-i", env.invPath, "--state-dir", env.stateDir, "-o", "json")
	var st struct {
		StorageClasses []installer.StorageClassStatus
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, stderr)
	}
	if len(st.StorageClasses) == 0 || st.StorageClasses[0].Name != inventory.LocalPathClass || !st.StorageClasses[0].Default || st.StorageClasses[0].Volumes < 1 {
		t.Errorf("berth status shows storage classes %+v, want local-path, the default, with the claim's volume", st.StorageClasses)
	}
	dir := env.inv.Storage.LocalPath.Path
	if out, err := env.exec(t, worker, "cat "+dir+"/*/proof"); err != nil || strings.TrimSpace(out) != token {
		t.Errorf("%s holds no %s/*/proof with the token: %v %q", worker, dir, err, out)
	}
	if err := cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(2*time.Minute, 2*time.Second, func() error {
		if out, _ := env.exec(t, worker, "ls "+dir+" 2>/dev/null | grep -c pvc-; true"); strings.TrimSpace(out) != "0" {
			return fmt.Errorf("%s still holds %s volume directories under %s", worker, strings.TrimSpace(out), dir)
		}
		return nil
	}); err != nil {
		t.Errorf("after the claim was deleted: %v", err)
	}
}

// describeClaim says where a claim stands, for failures.
func describeClaim(cs kubernetes.Interface, ns, name string) string {
	c, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	ev, _ := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	var msgs []string
	if ev != nil {
		for _, e := range ev.Items {
			msgs = append(msgs, e.Reason+": "+e.Message)
		}
	}
	return fmt.Sprintf("claim %s is %s (volume %q); events: %s", name, c.Status.Phase, c.Spec.VolumeName, strings.Join(msgs, "; "))
}

// openBundle opens the shared lab's bundle, verified with the lab's key.
func (env *e2eEnv) openBundle(t *testing.T) *bundles.Bundle {
	t.Helper()
	pub, err := bundles.LoadPublicKey(env.key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundles.Open(context.Background(), env.bundle, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
