// Package preflight checks that the hosts of an inventory can take a cluster, without changing anything on them.
//
// It reads each host's facts over SSH in one read-only script (OS, kernel, CPU, memory, disk, swap, NICs and
// addresses, listening sockets, cgroups, kernel features, sysctls) plus its clock, then applies one check per
// concern (a check_*.go file each). Every failure and warning carries the fix. Checks take a Host that can only run
// commands, and only read-only commands are sent; the install reuses the same checks as its preflight phase.
package preflight
