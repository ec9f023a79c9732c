// Package kube is how berth talks to a cluster's API and to its etcd: nothing else in berth opens a connection
// to either.
//
// The machine running berth usually has no route to the cluster's VIP, while it reaches every host over SSH.
// A Client therefore dials the API through a tunnel: a TCP connection opened from a control plane and carried
// inside that host's SSH connection. The caller hands over several tunnels, one per control plane, in order of
// preference; when the host of the current tunnel goes away (its SSH connection dies, a dial fails or hangs), the
// Client marks it down for a while and carries on through the next one, so that the next API call after a control
// plane stops still succeeds. An upgrade restarts every control plane in turn, the first one included.
//
// On top of that connection the package offers what the installer, the upgrade, the registries and the
// controllers need:
//
//   - server-side apply with berth as field manager, and a diff of what an apply would change (a server-side
//     dry run compared with the live object);
//   - Helm releases installed and upgraded with the SDK from charts berth embeds, recovering a revision that a
//     killed run left pending;
//   - waits written as Conditions (nodes Ready, pods ready, a rollout complete, an API server answering, etcd
//     healthy) that the caller polls: the phase engine owns the one poll loop, its timeouts and its progress
//     display;
//   - cordon and drain with kubectl's drain helper (the eviction API, PodDisruptionBudgets honoured, a bounded
//     wait), naming the pods and budgets that hold a drain, and the budgets that would hold one before it starts;
//   - etcd membership, health and snapshots through the etcd v3 client, dialled through a tunnel as well.
//
// The package imports no other berth package: a tunnel is just a host name and a dial function, which
// remote.Executor.DialContext provides.
package kube
