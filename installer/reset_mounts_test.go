package installer

import (
	"os/exec"
	"strings"
	"testing"
)

// TestResetUnmountsOnlyBelow runs the reset's own awk selection over a mount table: the mounts the runtime and the
// kubelet made below their directories are taken down; the directories themselves, when they are filesystems of
// their own, and everything else stay mounted.
func TestResetUnmountsOnlyBelow(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Fatal("awk is needed: the hosts run the selection with it")
	}
	mounts := `overlay / overlay rw 0 0
/dev/sdb1 /var/lib/containerd ext4 rw 0 0
/dev/sdc1 /var/lib/kubelet ext4 rw 0 0
/dev/sdd1 /var/lib/etcd ext4 rw 0 0
shm /run/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm tmpfs rw 0 0
overlay /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs overlay rw 0 0
tmpfs /var/lib/kubelet/pods/uid/volumes/kubernetes.io~projected/kube-api-access-x tmpfs rw 0 0
/dev/sde1 /var/lib/containerd-backup ext4 rw 0 0
/dev/sdf1 /var/lib/kubelets ext4 rw 0 0
`
	cmd := exec.Command("awk", `$2 ~ "`+resetMounts+`" {print $2}`)
	cmd.Stdin = strings.NewReader(mounts)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(out))
	want := []string{
		"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm",
		"/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
		"/var/lib/kubelet/pods/uid/volumes/kubernetes.io~projected/kube-api-access-x",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the reset unmounts %v, want exactly %v", got, want)
	}
	if !strings.Contains(resetScript, resetMounts) {
		t.Error("the reset script does not use resetMounts")
	}
}
