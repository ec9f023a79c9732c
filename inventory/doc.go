// Package inventory describes the estate berth manages: the hosts, their network planes and NICs, how to reach
// them over SSH, and what runs where (control plane, DNS, registries, storage, tenants).
//
// An inventory is a YAML file (apiVersion berth.sh/v1alpha1, kind Inventory). Load reads it with positions so that
// every problem found, by the decoder or by Validate, names the file, line and column, the field path and the fix.
// All problems are reported at once. The package is a leaf: it does no I/O beyond reading the file it is given.
package inventory
