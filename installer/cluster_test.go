package installer

import "testing"

// TestFirstIsTheControlPlaneThatRunsTheCluster: before the cluster exists the inventory's first control plane
// initialises it; once it exists, the first control plane that runs it is where joins and secrets come from, so a
// control plane put back at the top of the list after berth node remove joins instead of starting a new cluster
// (before, cp1 taken out and put back was initialised as a cluster of its own).
func TestFirstIsTheControlPlaneThatRunsTheCluster(t *testing.T) {
	c := &Cluster{Inv: exampleInventory(t)}
	if got := c.First().Name; got != "cp1" {
		t.Fatalf("fresh hosts: first = %s, want cp1", got)
	}
	c.setState("cp1", parseState("file admin no\n"))
	c.setState("cp2", parseState("file admin yes\n"))
	c.setState("cp3", parseState("file admin yes\n"))
	if got := c.First().Name; got != "cp2" {
		t.Errorf("cp1 reset, cp2 and cp3 run the cluster: first = %s, want cp2", got)
	}
	c.setState("cp1", parseState("file admin yes\n"))
	if got := c.First().Name; got != "cp1" {
		t.Errorf("every control plane runs the cluster: first = %s, want cp1", got)
	}
}
