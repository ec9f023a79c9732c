package lab

import "testing"

func TestRecipeDigests(t *testing.T) {
	r := baseRecipe()
	d1, err := r.imageDigest()
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := r.imageDigest()
	if d1 != d2 || len(d1) != 16 {
		t.Fatalf("image digest not stable: %q %q", d1, d2)
	}
	for _, p := range []string{"containerd", "kubelet", "kubeadm", "runc"} {
		for _, have := range r.Packages {
			if have == p {
				t.Errorf("the lab image must not contain %s: it comes from the bundle", p)
			}
		}
	}

	// Package order does not matter; package content does.
	shuffled := baseRecipe()
	shuffled.Packages[0], shuffled.Packages[1] = shuffled.Packages[1], shuffled.Packages[0]
	if shuffled.rootfsDigest() != r.rootfsDigest() {
		t.Error("reordering packages changed the root file system digest")
	}
	more := baseRecipe()
	more.Packages = append(more.Packages, "vim-tiny")
	if more.rootfsDigest() == r.rootfsDigest() {
		t.Error("adding a package did not change the root file system digest")
	}
	d3, _ := more.imageDigest()
	if d3 == d1 {
		t.Error("adding a package did not change the image digest")
	}
	other := baseRecipe()
	other.Suite = "trixie"
	if other.rootfsDigest() == r.rootfsDigest() {
		t.Error("another suite has the same digest")
	}
}

func TestDebootstrapArgs(t *testing.T) {
	args := baseRecipe().debootstrapArgs("/c")
	if args[0] != "--variant=minbase" || args[len(args)-1] != "bookworm" || args[len(args)-2] != "--cache-dir=/c" {
		t.Errorf("debootstrap args %v", args)
	}
}
