// Package action opens a cluster for one run of an action (install, reset, upgrade, ...) the same way every time:
// the cluster's state directory, its lock, the action's journal, a pool of host connections and a phase runner.
//
// The locking rule is the same for every action: a run that may change hosts holds the cluster's one lock for its
// whole length, so no two changing runs (an install and an upgrade, say) ever act on one cluster at once; a dry
// run changes nothing and takes no lock, and only reads the journal. The package also maps an inventory's hosts
// onto the plain SSH targets internal/remote connects to.
package action
